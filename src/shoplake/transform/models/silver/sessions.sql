-- Sessions from the clickstream: a session is a run of a session_id's events with no gap
-- longer than 30 minutes (a session_id idle for longer starts a new session_index).
-- Incremental by session_id: the runner recomputes every session_id that received new events,
-- from all of its events, so late and out-of-order events land in the right session.
-- An event is "late" when it arrived (log order) after an event of its session_id with a
-- later event_time.
WITH source AS (
    SELECT * FROM bronze.events
),

deduplicated AS (
    SELECT *
    FROM source
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _position) = 1
),

arrival AS (
    SELECT
        *,
        event_time < max(event_time) OVER (
            PARTITION BY session_id ORDER BY _position
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS is_late
    FROM deduplicated
),

gaps AS (
    SELECT
        *,
        CASE
            WHEN lag(event_time) OVER by_time IS NULL THEN 1
            WHEN event_time - lag(event_time) OVER by_time > INTERVAL 30 MINUTE THEN 1
            ELSE 0
        END AS starts_session
    FROM arrival
    WINDOW by_time AS (PARTITION BY session_id ORDER BY event_time, event_id)
),

numbered AS (
    SELECT
        *,
        sum(starts_session) OVER (
            PARTITION BY session_id ORDER BY event_time, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS session_index
    FROM gaps
),

final AS (
    SELECT
        session_id,
        CAST(session_index AS INTEGER) AS session_index,
        max(customer_number) AS customer_number,
        min(device) AS device,
        min(event_time) AS started_at,
        max(event_time) AS ended_at,
        CAST(epoch(max(event_time)) - epoch(min(event_time)) AS DOUBLE) AS duration_seconds,
        CAST(count(*) AS INTEGER) AS events,
        CAST(count(*) FILTER (WHERE event_type = 'page_view') AS INTEGER) AS pages,
        CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'page_view') AS INTEGER)
            AS products_viewed,
        CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'add_to_cart') AS INTEGER)
            AS products_added,
        CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'purchase') AS INTEGER)
            AS products_purchased,
        count(*) FILTER (WHERE event_type = 'purchase') > 0 AS converted,
        CAST(count(*) FILTER (WHERE is_late) AS INTEGER) AS late_events
    FROM numbered
    GROUP BY session_id, session_index
)

SELECT * FROM final
