-- Employee dimension (type 1: current attributes), one row per current employee.
WITH source AS (
    SELECT * FROM silver.employees
),

final AS (
    SELECT
        CAST('0x' || substr(md5(CAST(employee_number AS VARCHAR)), 1, 15) AS BIGINT)
            AS employee_key,
        employee_number,
        first_name,
        last_name,
        first_name || ' ' || last_name AS full_name,
        email,
        extension,
        job_title,
        office_code,
        reports_to
    FROM source
)

SELECT * FROM final
