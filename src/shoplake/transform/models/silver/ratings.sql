-- Current rating of each product by each customer: latest version per
-- (customer_number, product_code); delete versions flagged.
WITH source AS (
    SELECT *
    FROM bronze.ratings
    QUALIFY row_number() OVER (
        PARTITION BY customerNumber, productCode ORDER BY _batch_id DESC
    ) = 1
),

renamed AS (
    SELECT
        CAST(customerNumber AS INTEGER) AS customer_number,
        TRIM(productCode) AS product_code,
        CAST(productRating AS INTEGER) AS product_rating,
        CAST(ratedAt AS TIMESTAMP) AS rated_at,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
