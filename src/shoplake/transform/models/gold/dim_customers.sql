-- Customer dimension, SCD type 2, built from the full bronze.customers change history:
-- one row per customer version. A version is valid from its _ingested_at until the next
-- change of the same customer (an update, or the delete that ends it); the latest version of
-- a customer that still exists has valid_to NULL and is_current true.
WITH source AS (
    SELECT * FROM bronze.customers
),

changes AS (
    SELECT
        *,
        lead(_ingested_at) OVER (
            PARTITION BY customerNumber ORDER BY _batch_id
        ) AS next_change_at
    FROM source
),

versions AS (
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
        _ingested_at AS valid_from,
        next_change_at AS valid_to
    FROM changes
    WHERE _op <> 'delete'
),

final AS (
    SELECT
        -- Stable surrogate key from the natural key and the version start. The timestamp is
        -- rendered as epoch microseconds so the key does not depend on the session time zone.
        CAST(
            '0x' || substr(
                md5(CAST(customer_number AS VARCHAR) || '@' || CAST(epoch_us(valid_from) AS VARCHAR)),
                1, 15
            ) AS BIGINT
        ) AS customer_key,
        customer_number,
        customer_name,
        contact_last_name,
        contact_first_name,
        phone,
        address_line1,
        address_line2,
        city,
        state,
        postal_code,
        country,
        sales_rep_employee_number,
        credit_limit,
        valid_from,
        valid_to,
        valid_to IS NULL AS is_current
    FROM versions
)

SELECT * FROM final
