-- Current state of each office (latest version per office_code; delete versions flagged).
WITH source AS (
    SELECT *
    FROM bronze.offices
    QUALIFY row_number() OVER (PARTITION BY officeCode ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        TRIM(officeCode) AS office_code,
        TRIM(city) AS city,
        TRIM(phone) AS phone,
        TRIM(addressLine1) AS address_line1,
        NULLIF(TRIM(addressLine2), '') AS address_line2,
        NULLIF(TRIM(state), '') AS state,
        TRIM(country) AS country,
        TRIM(postalCode) AS postal_code,
        TRIM(territory) AS territory,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
