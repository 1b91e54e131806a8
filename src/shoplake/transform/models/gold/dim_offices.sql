-- Office dimension (type 1: current attributes), one row per current sales office.
WITH source AS (
    SELECT * FROM silver.offices
),

final AS (
    SELECT
        CAST('0x' || substr(md5(office_code), 1, 15) AS BIGINT) AS office_key,
        office_code,
        city,
        state,
        country,
        territory,
        phone,
        address_line1,
        address_line2,
        postal_code
    FROM source
)

SELECT * FROM final
