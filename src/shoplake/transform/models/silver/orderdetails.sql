-- Current order lines: latest version per (order_number, product_code); delete versions flagged.
WITH source AS (
    SELECT *
    FROM bronze.orderdetails
    QUALIFY row_number() OVER (
        PARTITION BY orderNumber, productCode ORDER BY _batch_id DESC
    ) = 1
),

renamed AS (
    SELECT
        CAST(orderNumber AS INTEGER) AS order_number,
        TRIM(productCode) AS product_code,
        CAST(orderLineNumber AS INTEGER) AS order_line_number,
        CAST(quantityOrdered AS INTEGER) AS quantity_ordered,
        CAST(priceEach AS DECIMAL(10, 2)) AS price_each,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
