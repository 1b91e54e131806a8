-- Calendar dimension, one row per day, covering whole years from the earliest to the latest
-- order, required or shipped date in silver.orders (so every order-related date has a row).
WITH order_dates AS (
    SELECT order_date AS d FROM silver.orders
    UNION ALL
    SELECT required_date FROM silver.orders
    UNION ALL
    SELECT shipped_date FROM silver.orders WHERE shipped_date IS NOT NULL
),

bounds AS (
    SELECT
        CAST(date_trunc('year', min(d)) AS DATE) AS first_day,
        CAST(date_trunc('year', max(d)) + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE) AS last_day
    FROM order_dates
),

days AS (
    SELECT CAST(unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS DATE) AS calendar_date
    FROM bounds
    WHERE first_day IS NOT NULL
),

final AS (
    SELECT
        CAST(strftime(calendar_date, '%Y%m%d') AS INTEGER) AS date_key,
        calendar_date AS "date",
        CAST(year(calendar_date) AS INTEGER) AS "year",
        CAST(quarter(calendar_date) AS INTEGER) AS "quarter",
        CAST(month(calendar_date) AS INTEGER) AS "month",
        monthname(calendar_date) AS month_name,
        CAST(day(calendar_date) AS INTEGER) AS "day",
        CAST(isodow(calendar_date) AS INTEGER) AS day_of_week,
        dayname(calendar_date) AS day_name,
        isodow(calendar_date) IN (6, 7) AS is_weekend
    FROM days
)

SELECT * FROM final
