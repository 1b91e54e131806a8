-- Current payments: latest version per (customer_number, check_number); delete versions flagged.
WITH source AS (
    SELECT *
    FROM bronze.payments
    QUALIFY row_number() OVER (
        PARTITION BY customerNumber, checkNumber ORDER BY _batch_id DESC
    ) = 1
),

renamed AS (
    SELECT
        CAST(customerNumber AS INTEGER) AS customer_number,
        TRIM(checkNumber) AS check_number,
        CAST(paymentDate AS DATE) AS payment_date,
        CAST(amount AS DECIMAL(10, 2)) AS amount,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
