-- Current state of each order (latest version per order_number; delete versions flagged).
WITH source AS (
    SELECT *
    FROM bronze.orders
    QUALIFY row_number() OVER (PARTITION BY orderNumber ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        CAST(orderNumber AS INTEGER) AS order_number,
        CAST(orderDate AS DATE) AS order_date,
        CAST(requiredDate AS DATE) AS required_date,
        CAST(shippedDate AS DATE) AS shipped_date,
        TRIM(status) AS status,
        NULLIF(TRIM(comments), '') AS comments,
        CAST(customerNumber AS INTEGER) AS customer_number,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
