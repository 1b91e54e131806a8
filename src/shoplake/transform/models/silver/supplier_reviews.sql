-- Current product reviews from the supplier API: latest version per review.
WITH source AS (
    SELECT *
    FROM bronze.supplier_reviews
    QUALIFY row_number() OVER (
        PARTITION BY review_id ORDER BY updated_at DESC, _batch_id DESC
    ) = 1
),

renamed AS (
    SELECT
        TRIM(review_id) AS review_id,
        TRIM(sku) AS supplier_sku,
        CAST(rating AS INTEGER) AS rating,
        TRIM(title) AS title,
        TRIM(body) AS body,
        TRIM(reviewer) AS reviewer,
        created_at,
        updated_at,
        _ingested_at AS ingested_at,
        FALSE AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
