-- Current state of each employee (latest version per employee_number; delete versions flagged).
WITH source AS (
    SELECT *
    FROM bronze.employees
    QUALIFY row_number() OVER (PARTITION BY employeeNumber ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        CAST(employeeNumber AS INTEGER) AS employee_number,
        TRIM(lastName) AS last_name,
        TRIM(firstName) AS first_name,
        TRIM(extension) AS extension,
        TRIM(email) AS email,
        TRIM(officeCode) AS office_code,
        CAST(reportsTo AS INTEGER) AS reports_to,
        TRIM(jobTitle) AS job_title,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
