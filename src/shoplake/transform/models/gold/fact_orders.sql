-- Order-line fact, one row per current order line (silver.orderdetails joined to silver.orders).
-- customer_key points to the dim_customers version that was current when the order first
-- landed in bronze (the earliest _ingested_at of the order): the version with
-- valid_from <= that time < coalesce(valid_to, infinity). Should no version cover that time
-- (the customer landed in a later ingest run than the order), the customer's earliest version
-- is used, so every line keeps a customer. employee_key is that customer version's sales rep,
-- office_key the rep's office.
WITH src_lines AS (
    SELECT * FROM silver.orderdetails
),

src_orders AS (
    SELECT * FROM silver.orders
),

order_first_landed AS (
    SELECT
        CAST(orderNumber AS INTEGER) AS order_number,
        min(_ingested_at) AS first_ingested_at
    FROM bronze.orders
    GROUP BY 1
),

order_customer_version AS (
    SELECT
        o.order_number,
        c.customer_key,
        c.sales_rep_employee_number
    FROM src_orders AS o
    INNER JOIN order_first_landed AS f ON f.order_number = o.order_number
    INNER JOIN gold.dim_customers AS c ON c.customer_number = o.customer_number
    QUALIFY row_number() OVER (
        PARTITION BY o.order_number
        ORDER BY
            (c.valid_from <= f.first_ingested_at
                AND f.first_ingested_at < coalesce(c.valid_to, 'infinity'::TIMESTAMPTZ)) DESC,
            c.valid_from ASC
    ) = 1
),

joined AS (
    SELECT
        l.order_number,
        l.order_line_number,
        v.customer_key,
        p.product_key,
        e.employee_key,
        ofc.office_key,
        d.date_key AS order_date_key,
        o.order_date,
        o.required_date,
        o.shipped_date,
        o.status,
        l.quantity_ordered,
        l.price_each,
        p.buy_price,
        p.msrp
    FROM src_lines AS l
    INNER JOIN src_orders AS o ON o.order_number = l.order_number
    LEFT JOIN order_customer_version AS v ON v.order_number = l.order_number
    LEFT JOIN gold.dim_products AS p ON p.product_code = l.product_code
    LEFT JOIN gold.dim_employees AS e ON e.employee_number = v.sales_rep_employee_number
    LEFT JOIN gold.dim_offices AS ofc ON ofc.office_code = e.office_code
    LEFT JOIN gold.dim_dates AS d ON d."date" = o.order_date
),

final AS (
    SELECT
        order_number,
        order_line_number,
        customer_key,
        product_key,
        employee_key,
        office_key,
        order_date_key,
        order_date,
        required_date,
        shipped_date,
        status,
        quantity_ordered,
        price_each,
        CAST(quantity_ordered * price_each AS DECIMAL(12, 2)) AS order_amount,
        buy_price,
        msrp,
        CAST(quantity_ordered * (price_each - buy_price) AS DECIMAL(12, 2)) AS profit,
        CAST(round(1 - price_each / NULLIF(msrp, 0), 4) AS DECIMAL(6, 4)) AS discount_pct
    FROM joined
)

SELECT * FROM final
