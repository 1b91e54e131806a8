-- The supplier's current catalog: latest version per SKU from the supplier API's history
-- (bronze.supplier_products, one row per version the API served).
WITH source AS (
    SELECT *
    FROM bronze.supplier_products
    QUALIFY row_number() OVER (
        PARTITION BY sku ORDER BY updated_at DESC, _batch_id DESC
    ) = 1
),

renamed AS (
    SELECT
        TRIM(sku) AS supplier_sku,
        TRIM(product_code) AS product_code,
        TRIM(name) AS supplier_product_name,
        TRIM(vendor) AS supplier_vendor,
        CAST(unit_price AS DECIMAL(10, 2)) AS supplier_price,
        UPPER(TRIM(currency)) AS currency,
        CAST(stock AS BIGINT) AS supplier_stock,
        CAST(lead_time_days AS INTEGER) AS lead_time_days,
        discontinued,
        updated_at,
        _ingested_at AS ingested_at,
        FALSE AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
