"""The engine benchmark at scale 0.01: every engine's jobs give the published tables' answers,
a wrong answer is caught with a useful message, and the command writes its report."""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shoplake.bench.engines.common import COMPARED_COLUMNS, WORKLOADS
from shoplake.bench.engines.inputs import ScaleInputs, build_inputs
from shoplake.bench.engines.runner import measure, skip_reason
from shoplake.bench.engines.verify import MismatchError, check_equal
from shoplake.config import load_settings
from tests.bench.test_bench_ingest import table_under

pytestmark = pytest.mark.slow

SCALE = 0.01
#: A total per workload, compared between the engine's output and the published table.
TOTALS = {
    "fact_orders": "order_amount",
    "monthly_revenue": "revenue",
    "sessionize": "events",
    "interaction_matrix": "weight",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> ScaleInputs:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("engines"))
    return build_inputs(settings, SCALE)


def published(lake: ScaleInputs, workload: str) -> pa.Table:
    return pq.read_table(lake.expected(workload))


def total(table: pa.Table, column: str) -> float:
    return float(pc.sum(table.column(column).cast(pa.float64())).as_py())


def assert_answers(engine: str, workload: str, lake: ScaleInputs) -> None:
    """The job's output equals the published table, its rows and totals the known figures."""
    jobs = importlib.import_module(f"shoplake.bench.engines.{engine}_jobs")
    output = getattr(jobs, workload)(lake.inputs())
    expected = published(lake, workload)
    check_equal(engine, workload, output, expected, COMPARED_COLUMNS[workload])
    assert output.num_rows == expected.num_rows > 0
    column = TOTALS[workload]
    assert math.isclose(total(output, column), total(expected, column), rel_tol=1e-9)
    inputs = {name: pq.read_table(path) for name, path in lake.inputs().items()}
    if workload == "fact_orders":  # every current order line has its order
        assert output.num_rows == inputs["orderdetails"].num_rows
    if workload == "monthly_revenue":  # every line lands in one group
        assert total(output, "order_lines") == inputs["orderdetails"].num_rows
    if workload == "sessionize":  # every distinct event in exactly one session
        distinct = pc.count_distinct(inputs["events"].column("event_id")).as_py()
        assert total(output, "events") == distinct
    if workload == "interaction_matrix":  # purchases = lines of orders not cancelled
        orders = inputs["orders"].filter(pc.field("status") != "Cancelled")
        kept = pc.is_in(inputs["orderdetails"].column("order_number"), orders["order_number"])
        assert total(output, "purchases") == pc.sum(kept.cast(pa.int64())).as_py()


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_engine_gives_the_published_answer(engine: str, workload: str, lake: ScaleInputs) -> None:
    assert_answers(engine, workload, lake)


def test_spark_gives_the_published_answers(lake: ScaleInputs) -> None:
    reason = skip_reason("spark")
    if reason:
        pytest.skip(f"spark: {reason}")
    from shoplake.bench.engines.spark_jobs import session

    spark = session()
    try:
        for workload in WORKLOADS:
            assert_answers("spark", workload, lake)
    finally:
        spark.stop()


def test_a_dropped_row_is_caught(lake: ScaleInputs) -> None:
    from shoplake.bench.engines import pandas_jobs

    output = pandas_jobs.fact_orders(lake.inputs())
    with pytest.raises(MismatchError, match=r"^pandas / fact_orders: 9,901 rows, the published"):
        check_equal(
            "pandas",
            "fact_orders",
            output.slice(1),
            published(lake, "fact_orders"),
            COMPARED_COLUMNS["fact_orders"],
        )


def test_the_benchmark_fails_on_a_job_that_drops_a_row(
    lake: ScaleInputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "planted_jobs.py").write_text(
        "from shoplake.bench.engines import pandas_jobs\n\n\n"
        "def sessionize(inputs):\n"
        "    return pandas_jobs.sessionize(inputs).slice(1)\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    with pytest.raises(MismatchError) as caught:
        measure("pandas", "sessionize", lake, tmp_path / "runs", 1, module="planted_jobs")
    expected = published(lake, "sessionize").num_rows
    assert str(caught.value) == (
        f"pandas / sessionize: {expected - 1:,} rows, the published table has {expected:,}"
    )


def test_a_changed_value_is_caught_with_the_first_differing_row(lake: ScaleInputs) -> None:
    from shoplake.bench.engines import polars_jobs

    expected = published(lake, "monthly_revenue")
    output = polars_jobs.monthly_revenue(lake.inputs())
    units = output.column("units").to_pylist()
    units[5] += 1
    wrong = output.set_column(output.schema.get_field_index("units"), "units", pa.array(units))
    with pytest.raises(MismatchError) as caught:
        check_equal("polars", "monthly_revenue", wrong, expected)
    message = str(caught.value)
    assert message.startswith("polars / monthly_revenue: row ")
    assert "differs: got {" in message and "published {" in message
    row = output.slice(5, 1).to_pylist()[0]
    assert f"'product_line': '{row['product_line']}'" in message
    assert f"'units': {row['units'] + 1}" in message and f"'units': {row['units']}" in message


def test_a_decimal_off_by_less_than_its_last_place_passes(lake: ScaleInputs) -> None:
    from shoplake.bench.engines import duckdb_jobs

    output = duckdb_jobs.interaction_matrix(lake.inputs())
    nudged = output.set_column(
        output.schema.get_field_index("weight"),
        "weight",
        pc.add(output.column("weight"), 1e-12),
    )
    check_equal("duckdb", "interaction_matrix", nudged, published(lake, "interaction_matrix"))


def test_the_command_writes_a_report_for_every_engine_and_workload(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "engines.md"
    cli = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(tmp_path / "data")]
    options = ["--scales", "0.01", "--engines", "pandas,polars,duckdb", "--repeat", "1"]
    done = subprocess.run(
        [*cli, "bench", "engines", *options, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = report.read_text()
    for section in (
        "## Machine",
        "## Wall time",
        "## Peak memory",
        "## Start-up overheads",
        "## Where each engine stops fitting in memory",
        "## Storage",
        "## Which engine for which size",
    ):
        assert section in text
    times = table_under(text, "## Wall time")
    assert [row["workload"] for row in times] == [*WORKLOADS, "all four"]
    for row in times[:-1]:
        for engine in ("pandas", "polars", "duckdb"):
            assert float(row[engine].split()[0]) > 0, (row["workload"], engine)
    assert times[0]["rows"] == "9,902"
    startup = {row["engine"]: row for row in table_under(text, "## Start-up overheads")}
    assert set(startup) == {"pandas", "polars", "duckdb"}
    storage = {row["format"]: row for row in table_under(text, "## Storage")}
    assert len(storage) == 4
    iceberg = storage["Iceberg, partitioned by month (zstd)"]
    read, _of, files = iceberg["files read (one month)"].split()
    assert read == "1" and int(files) > 1  # the month filter pruned the other partitions
    charts = sorted(p.name for p in (report.parent / "engines").glob("*.png"))
    assert charts == sorted(["memory.png", *(f"time_{w}.png" for w in WORKLOADS)])
