"""The ingest benchmark at a tiny scale: the report exists, has every section, and adds up."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from shoplake.bench.ingest import run_ingest_benchmark
from shoplake.bench.machine import collect_machine_facts
from shoplake.config import load_settings
from shoplake.platform import Platform

pytestmark = pytest.mark.slow

SCALE = 0.01
CHANGES = 50
SECTIONS = (
    "# Ingest benchmark",
    "## Machine",
    "## Setup",
    "## Full load: orderdetails",
    "### Full load: every table",
    "## Reference: dlt",
    "## Incremental run after 50 new orders",
    "## Cursor cost: orderdetails incremental vs table size and changes",
    "## Cursor query plan",
    "## Target",
    "## Interpretation",
)


def _number(cell: str) -> float:
    return float(cell.strip().strip("*").replace(",", "") or "nan")


def table_under(report: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after ``heading``, as dicts keyed by the header cells."""
    lines = report.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i, line in enumerate(lines[start:], start) if not line.startswith("|")), None)
    header, _rule, *rows = [
        [cell.strip().strip("*") for cell in line.strip("|").split("|")]
        for line in lines[start:end]
    ]
    return [dict(zip(header, row, strict=True)) for row in rows]


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    data_dir = tmp_path_factory.mktemp("bench")
    settings = load_settings(data_dir=data_dir)
    path = run_ingest_benchmark(
        settings, scale=SCALE, changes=CHANGES, report=data_dir / "out" / "ingest.md", dlt=True
    )
    return path.read_text(), data_dir / "bench"


@pytest.fixture(scope="module")
def generated_rows(tmp_path_factory: pytest.TempPathFactory) -> int:
    """orderdetails rows of the same scale and seed, generated independently of the benchmark."""
    data_dir = tmp_path_factory.mktemp("same-source")
    Platform(data_dir=data_dir).generate(scale=SCALE, seed=42)
    return count(data_dir / "source.db", "orderdetails")


def test_report_has_every_section(bench: tuple[str, Path]) -> None:
    report, _work = bench
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert re.search(r"date \(UTC\): \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", report)
    assert "bench ingest --scale 0.01 --changes 50" in report
    facts = collect_machine_facts()
    assert f"- CPU: {facts.cpu}" in report
    for package in ("pyiceberg", "duckdb", "pyarrow", "dlt", "adbc-driver-sqlite"):
        assert f"{package} {facts.packages[package]}" in report


def test_full_load_rows_match_the_generated_source(
    bench: tuple[str, Path], generated_rows: int
) -> None:
    report, _work = bench
    runs = table_under(report, "## Full load: orderdetails")
    assert [r["run"] for r in runs] == ["1", "2", "3", "best"]
    assert {_number(r["rows"]) for r in runs} == {generated_rows}
    best = runs[-1]
    assert _number(best["wall s"]) == min(_number(r["wall s"]) for r in runs[:-1])
    rate = generated_rows / _number(best["wall s"])
    assert _number(best["rows/s (wall)"]) == pytest.approx(rate, rel=0.01)
    assert f"orderdetails {generated_rows:,}" in report  # the setup line's generated counts
    every = {r["table"]: r for r in table_under(report, "### Full load: every table")}
    assert _number(every["orderdetails"]["rows"]) == generated_rows
    assert every["orderdetails"]["strategy"] == "cursor"
    assert every["orders"]["strategy"] == "snapshot"


def test_dlt_loads_the_same_rows(bench: tuple[str, Path], generated_rows: int) -> None:
    report, _work = bench
    rows = {r["loader"]: r for r in table_under(report, "## Reference: dlt")}
    assert set(rows) == {"shoplake", "dlt pyarrow", "dlt sqlalchemy"}
    shoplake = _number(rows["shoplake"]["rows/s"])
    for loader in ("dlt pyarrow", "dlt sqlalchemy"):
        assert _number(rows[loader]["rows"]) == generated_rows
        ratio = shoplake / _number(rows[loader]["rows/s"])
        assert _number(rows[loader]["shoplake / dlt"]) == pytest.approx(ratio, abs=0.01)
    assert "could not run" not in report


def test_incremental_lands_the_new_order_lines(bench: tuple[str, Path]) -> None:
    report, _work = bench
    results = {r["table"]: r for r in table_under(report, "## Incremental run after 50")}
    lines = results["orderdetails"]
    assert lines["strategy"] == "cursor"
    assert _number(lines["rows landed"]) == _number(lines["inserts"]) > 0
    simulated = re.search(r"changed: (.*)\. Then", report)
    assert simulated is not None
    changes = {k: _number(v) for k, v in (p.rsplit(" ", 1) for p in simulated[1].split(", "))}
    assert changes["orders_inserted"] == CHANGES
    assert _number(lines["inserts"]) == changes["orderdetails_inserted"]
    assert _number(results["orders"]["inserts"]) == changes["orders_inserted"]
    for row in results.values():
        if row["table"] != "all (wall)":
            parts = sum(_number(row[k]) for k in ("inserts", "updates", "deletes"))
            assert _number(row["rows landed"]) == parts
    total = sum(_number(r["rows landed"]) for t, r in results.items() if t != "all (wall)")
    assert _number(results["all (wall)"]["rows landed"]) == total


def test_cursor_points_and_plan(bench: tuple[str, Path]) -> None:
    report, work = bench
    points = table_under(report, "## Cursor cost")
    assert [(p["scale"], p["run"], _number(p["new orders"]), p["runs"]) for p in points] == [
        ("0.01", "first after full load", CHANGES, "1"),
        ("0.01", "steady", CHANGES, "3"),
        ("0.01", "steady", CHANGES * 10, "3"),
        ("0.001", "first after full load", CHANGES, "1"),
        ("0.001", "steady", CHANGES, "3"),
    ]
    incremental = {r["table"]: r for r in table_under(report, "## Incremental run after 50")}
    assert points[0]["changed rows"] == incremental["orderdetails"]["rows landed"]
    assert points[0]["best s"] == incremental["orderdetails"]["seconds"]
    assert _number(points[2]["changed rows"]) > _number(points[1]["changed rows"]) > 0
    assert _number(points[4]["table rows"]) < _number(points[1]["table rows"])
    assert "SEARCH orderdetails USING" in report
    assert "SCAN orderdetails" not in report
    assert "Every cursor query uses an index SEARCH." in report
    # every order line the source now holds reached bronze, through all the runs above
    source_lines = count(work / "source" / "source.db", "orderdetails")
    lake = Platform(data_dir=work / "lake", **{"source.url": f"sqlite:///{work}/source/source.db"})
    bronze = lake.query("SELECT count(*) AS n FROM bronze.orderdetails").table
    assert bronze.column("n")[0].as_py() == source_lines


def test_target_verdict_matches_the_figure(bench: tuple[str, Path]) -> None:
    report, _work = bench
    verdict = re.search(
        r"\*\*([\d,]+) rows/s measured vs 500,000 rows/s target — (NOT MET|MET)", report
    )
    assert verdict is not None
    measured = _number(verdict.group(1))
    assert verdict.group(2) == ("MET" if measured >= 500_000 else "NOT MET")
    interpretation = report.split("## Interpretation", 1)[1].strip().splitlines()
    assert 3 <= len([line for line in interpretation if line.startswith("- ")]) <= 5
