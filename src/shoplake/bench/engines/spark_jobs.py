"""The four workloads in the PySpark DataFrame API, on a ``local[2]`` session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.bench.engines.common import CANCELLED, FACT_COLUMNS, SESSION_GAP_MINUTES

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

#: The JVM's heap: the engine's own memory limit in the fit-in-memory analysis.
DRIVER_MEMORY = "4g"
#: Shuffle partitions: Spark's default of 200 is tuned for clusters, not two cores.
SHUFFLE_PARTITIONS = 4


def session() -> SparkSession:
    """The benchmark's Spark session (created on first use): local[2], UTC, quiet logs."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("shoplake-bench-engines")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def jvm_pid(spark: SparkSession) -> int | None:
    """The process id of the session's JVM (the Py4J gateway's process), if known."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    return getattr(proc, "pid", None)


def fact_orders(inputs: dict[str, str]) -> pa.Table:
    """Order-line fact with product and date keys (no SCD2 customer lookup)."""
    return _order_lines(inputs).select(*FACT_COLUMNS).toArrow()


def monthly_revenue(inputs: dict[str, str]) -> pa.Table:
    """Revenue, orders, lines, units and profit by month x product line x country."""
    from pyspark.sql import functions as sf

    customers = _read(inputs["customers"]).select("customer_number", "country")
    result = (
        _order_lines(inputs)
        .where(sf.col("product_key").isNotNull())
        .join(customers, "customer_number", "inner")
        .groupBy(sf.trunc("order_date", "month").alias("month"), "product_line", "country")
        .agg(
            sf.sum("order_amount").cast("decimal(18,2)").alias("revenue"),
            sf.count_distinct("order_number").cast("int").alias("orders"),
            sf.count("*").cast("int").alias("order_lines"),
            sf.sum("quantity_ordered").cast("bigint").alias("units"),
            sf.sum("profit").cast("decimal(18,2)").alias("profit"),
        )
    )
    return result.toArrow()


def sessionize(inputs: dict[str, str]) -> pa.Table:
    """Clickstream sessions: a session_id's events split at gaps over 30 minutes."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    time, kind = sf.col("event_time"), sf.col("event_type")
    first_seen = Window.partitionBy("event_id").orderBy("_position")
    arrived = (
        Window.partitionBy("session_id")
        .orderBy("_position")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    by_time = Window.partitionBy("session_id").orderBy("event_time", "event_id")
    gap = sf.unix_micros(time) - sf.unix_micros(sf.lag(time).over(by_time))
    starts = sf.when(gap <= SESSION_GAP_MINUTES * 60 * 1_000_000, 0).otherwise(1)
    running = by_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)

    def count_if(event_type: str) -> Column:
        return sf.count(sf.when(kind == event_type, 1))

    def distinct(event_type: str) -> Column:
        return sf.count_distinct(sf.when(kind == event_type, sf.col("product_code")))

    sessions = (
        _read(inputs["events"])
        .withColumn("seen", sf.row_number().over(first_seen))
        .where("seen = 1")
        .withColumn("is_late", time < sf.max(time).over(arrived))
        .withColumn("starts_session", starts)
        .withColumn("session_index", sf.sum("starts_session").over(running).cast("int"))
        .groupBy("session_id", "session_index")
        .agg(
            sf.max("customer_number").alias("customer_number"),
            sf.min("device").alias("device"),
            sf.min(time).alias("started_at"),
            sf.max(time).alias("ended_at"),
            sf.count("*").cast("int").alias("events"),
            count_if("page_view").cast("int").alias("pages"),
            distinct("page_view").cast("int").alias("products_viewed"),
            distinct("add_to_cart").cast("int").alias("products_added"),
            distinct("purchase").cast("int").alias("products_purchased"),
            (count_if("purchase") > 0).alias("converted"),
            sf.count(sf.when(sf.col("is_late"), 1)).cast("int").alias("late_events"),
        )
        .withColumn(
            "duration_seconds",
            (sf.unix_micros("ended_at") - sf.unix_micros("started_at")) / 1e6,
        )
    )
    return sessions.toArrow()


def interaction_matrix(inputs: dict[str, str]) -> pa.Table:
    """Customer x product implicit-feedback weights from purchases and ratings."""
    from pyspark.sql import functions as sf

    orders = _read(inputs["orders"]).where(sf.col("status") != CANCELLED)
    purchases = (
        _read(inputs["orderdetails"])
        .join(orders, "order_number", "inner")
        .groupBy("customer_number", "product_code")
        .agg(
            sf.count("*").cast("int").alias("purchases"),
            sf.sum("quantity_ordered").cast("bigint").alias("quantity"),
            sf.max("order_date").cast("timestamp_ntz").alias("last_purchase_at"),
        )
    )
    ratings = _read(inputs["ratings"]).select(
        "customer_number",
        "product_code",
        sf.col("product_rating").alias("rating"),
        sf.col("rated_at").cast("timestamp_ntz").alias("rated_at"),
    )
    quantity = sf.coalesce("quantity", sf.lit(0)).cast("bigint")
    bonus = sf.coalesce(sf.col("rating") - 3, sf.lit(0)) * 0.5
    result = purchases.join(ratings, ["customer_number", "product_code"], "full_outer").select(
        "customer_number",
        "product_code",
        sf.coalesce("purchases", sf.lit(0)).cast("int").alias("purchases"),
        quantity.alias("quantity"),
        "rating",
        sf.greatest(sf.log1p(quantity) + bonus, sf.lit(0.1)).cast("double").alias("weight"),
        sf.greatest("last_purchase_at", "rated_at").alias("last_interaction_at"),
    )
    return result.toArrow()


def _order_lines(inputs: dict[str, str]) -> DataFrame:
    """Order lines joined to their order and product, with the fact's derived columns."""
    from pyspark.sql import functions as sf

    products = _read(inputs["products"]).select(
        "product_code",
        "product_line",
        "buy_price",
        "msrp",
        sf.conv(sf.substring(sf.md5("product_code"), 1, 15), 16, 10)
        .cast("bigint")
        .alias("product_key"),
    )
    orders = _read(inputs["orders"]).drop("ingested_at")
    quantity, price, msrp = sf.col("quantity_ordered"), sf.col("price_each"), sf.col("msrp")
    return (
        _read(inputs["orderdetails"])
        .drop("ingested_at")
        .join(orders, "order_number", "inner")
        .join(products, "product_code", "left")
        .withColumn("order_date_key", sf.date_format("order_date", "yyyyMMdd").cast("int"))
        .withColumn("order_amount", (quantity * price).cast("decimal(12,2)"))
        .withColumn("profit", (quantity * (price - sf.col("buy_price"))).cast("decimal(12,2)"))
        .withColumn(
            "discount_pct",
            sf.round(1 - price.cast("double") / sf.when(msrp != 0, msrp.cast("double")), 4).cast(
                "decimal(6,4)"
            ),
        )
    )


def _read(path: str) -> DataFrame:
    return session().read.parquet(path)
