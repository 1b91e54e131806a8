-- Current state of each customer: the latest version per customer_number among the bronze rows
-- read (the whole history on a full refresh, only the new rows on an incremental run).
-- Delete versions are kept and flagged with _deleted; the runner removes those keys.
WITH source AS (
    SELECT *
    FROM bronze.customers
    QUALIFY row_number() OVER (PARTITION BY customerNumber ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        CAST(customerNumber AS INTEGER) AS customer_number,
        TRIM(customerName) AS customer_name,
        TRIM(contactLastName) AS contact_last_name,
        TRIM(contactFirstName) AS contact_first_name,
        TRIM(phone) AS phone,
        TRIM(addressLine1) AS address_line1,
        NULLIF(TRIM(addressLine2), '') AS address_line2,
        TRIM(city) AS city,
        NULLIF(TRIM(state), '') AS state,
        NULLIF(TRIM(postalCode), '') AS postal_code,
        TRIM(country) AS country,
        CAST(salesRepEmployeeNumber AS INTEGER) AS sales_rep_employee_number,
        CAST(creditLimit AS DECIMAL(10, 2)) AS credit_limit,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
