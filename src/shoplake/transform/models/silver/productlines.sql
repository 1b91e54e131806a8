-- Current product lines (latest version per product_line; delete versions flagged).
-- The blob column image is dropped; both descriptions are kept.
WITH source AS (
    SELECT *
    FROM bronze.productlines
    QUALIFY row_number() OVER (PARTITION BY productLine ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        TRIM(productLine) AS product_line,
        NULLIF(TRIM(textDescription), '') AS text_description,
        NULLIF(TRIM(htmlDescription), '') AS html_description,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
