"""The transform benchmark at a tiny scale: the report has its sections and the figures agree."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from shoplake.bench.transform import run_transform_benchmark
from shoplake.config import load_settings
from shoplake.transform.project import Project
from tests.bench.test_bench_ingest import _number, table_under

pytestmark = pytest.mark.slow

SCALE = 0.01
SECTIONS = (
    "# Transform benchmark",
    "## Machine",
    "## Setup",
    "## Full build: shoplake vs the same SQL in plain DuckDB",
    "## Per model (best run of each side)",
    "## Where shoplake's time goes",
    "## Incremental run after 1,000 new orders",
    "## Target",
    "## Interpretation",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    data_dir = tmp_path_factory.mktemp("bench")
    settings = load_settings(data_dir=data_dir)
    out = data_dir / "out" / "transform.md"
    path = run_transform_benchmark(settings, scale=SCALE, report=out, runs=1)
    assert path == out and path.exists()
    assert (data_dir / "bench-transform" / "source.db").exists()
    return Path(path).read_text()


def test_report_has_every_section(report: str) -> None:
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert re.search(r"date \(UTC\): \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", report)
    assert "bench transform --scale 0.01" in report
    runs = table_under(report, "## Full build")
    assert [r["run"] for r in runs] == ["1", "best"]
    interpretation = report.split("## Interpretation", 1)[1].strip().splitlines()
    assert 3 <= len([line for line in interpretation if line.startswith("- ")]) <= 5


def test_raw_and_shoplake_agree_on_every_model(report: str) -> None:
    models = table_under(report, "## Per model")
    by_model = {m["model"]: m for m in models if m["model"] != "all models"}
    # Every model except those of the clickstream and the supplier API (this benchmark streams
    # no events and ingests no API).
    not_landed = ("sessions", "supplier_", "product_supplier")
    expected = [t for t in Project.load().order if not t.split(".")[1].startswith(not_landed)]
    assert list(by_model) == expected
    for name, row in by_model.items():
        assert _number(row["rows (shoplake)"]) == _number(row["rows (raw)"]), name
    assert _number(by_model["gold.fact_orders"]["rows (raw)"]) == _number(
        by_model["silver.orderdetails"]["rows (raw)"]
    )
    total = re.search(
        r"`sum\(order_amount\)` of gold.fact_orders: published ([\d,.]+), "
        r"raw DuckDB ([\d,.]+) — equal\.",
        report,
    )
    assert total is not None
    published, raw = (Decimal(total.group(i).replace(",", "")) for i in (1, 2))
    assert published == raw > 0


def test_verdict_matches_the_figures(report: str) -> None:
    best = table_under(report, "## Full build")[-1]
    overhead = _number(best["shoplake s"]) / _number(best["raw DuckDB s"]) - 1
    verdict = re.search(r"\*\*(-?\d+)% measured vs ≤ 30% target — (NOT MET|MET)\*\*", report)
    assert verdict is not None
    measured = int(verdict.group(1))
    assert measured == _number(best["overhead"].rstrip("%"))
    assert measured == pytest.approx(overhead * 100, rel=0.02, abs=1)
    assert verdict.group(2) == ("MET" if overhead <= 0.30 else "NOT MET")
    parts = {p["part"] for p in table_under(report, "## Where shoplake's time goes")}
    for function in ("expose", "run_checks", "Publisher.wait", "materialize"):
        assert any(f"(`{function}`)" in part for part in parts), function


def test_incremental_silver_reads_only_new_bronze_rows(report: str) -> None:
    rows = {r["model"]: r for r in table_under(report, "## Incremental run after")}
    silver = {name: r for name, r in rows.items() if name.startswith("silver.")}
    changed = {name: r for name, r in silver.items() if r["status"] == "published"}
    assert {"silver.orders", "silver.orderdetails"} <= set(changed)
    for name, row in changed.items():
        assert row["mode"] == "incremental", name
        landed, scanned = _number(row["bronze rows landed"]), _number(row["rows scanned"])
        assert scanned == landed < _number(row["bronze rows"]), name
    for name, row in silver.items():
        if row["status"] == "unchanged":
            assert _number(row["rows scanned"]) == 0, name
    assert rows["gold.fact_orders"]["mode"] == "full"
    assert _number(rows["gold.fact_orders"]["rows"]) == _number(rows["silver.orderdetails"]["rows"])
