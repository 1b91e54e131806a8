"""The API benchmark at a tiny scale: both servers measured, figures and verdicts consistent."""

from __future__ import annotations

import re

import pytest

from shoplake.bench.api import (
    P99_TARGET_MS,
    P99_VS_BARE_TARGET,
    THROUGHPUT_SHARE_TARGET,
    run_api_benchmark,
)
from tests.bench.test_bench_ingest import _number, table_under
from tests.support.bench import run_valkey_benchmark

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_valkey_benchmark(
        tmp_path_factory, run_api_benchmark, "bench-api", scale=0.02, seconds=1.0, rounds=1
    )


def test_both_servers_answer_every_request_with_200(report: str) -> None:
    rows = table_under(report, "## Figures")
    assert [(r["server"], r["load"]) for r in rows] == [
        (server, load)
        for server in ("bare", "shoplake")
        for load in ("closed 50", "closed 10", "open 1,000/s")
    ]
    for row in rows:
        assert row["errors"] == "0", row
        assert re.fullmatch(r"200: [\d,]+", row["statuses"]), row
        assert _number(row["requests/s"]) > 0
        assert 0 < _number(row["p50"]) <= _number(row["p99"]) <= _number(row["max"])


def test_verdicts_follow_the_figures(report: str) -> None:
    rows = {(r["server"], r["load"]): r for r in table_under(report, "## Figures")}
    ours = _number(rows[("shoplake", "closed 50")]["requests/s"])
    bare = _number(rows[("bare", "closed 50")]["requests/s"])
    share = re.search(r"= \*\*(\d+)% of the floor vs ≥ 70% target — (NOT MET|MET)\*\*", report)
    assert share is not None
    assert int(share.group(1)) == pytest.approx(100 * ours / bare, abs=1)
    assert share.group(2) == ("MET" if ours / bare >= THROUGHPUT_SHARE_TARGET else "NOT MET")
    p99 = _number(rows[("shoplake", "open 1,000/s")]["p99"])
    verdict = re.search(r"\*\*([\d.]+) ms vs ≤ 10 ms target — (NOT MET|MET)\*\*", report)
    assert verdict is not None
    assert float(verdict.group(1)) == pytest.approx(p99, abs=0.01)
    assert verdict.group(2) == ("MET" if p99 <= P99_TARGET_MS else "NOT MET")
    bare_p99 = _number(rows[("bare", "open 1,000/s")]["p99"])
    against = re.search(
        r"([\d.]+) vs ([\d.]+) ms = \*\*([\d.]+)× vs ≤ 2× target — (NOT MET|MET)\*\*", report
    )
    assert against is not None
    assert (float(against.group(1)), float(against.group(2))) == pytest.approx((p99, bare_p99))
    ratio = float(against.group(3))
    assert ratio == pytest.approx(p99 / bare_p99, rel=0.01, abs=0.01)
    if abs(ratio - P99_VS_BARE_TARGET) > 0.01:  # the verdict uses the unrounded figures
        assert against.group(4) == ("MET" if ratio <= P99_VS_BARE_TARGET else "NOT MET")


def test_every_rounds_open_loop_is_reported(report: str) -> None:
    figures = {(r["server"], r["load"]): r for r in table_under(report, "## Figures")}
    block = report.split("every round", 1)[1].split("## Targets", 1)[0]
    rounds = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in block.splitlines()
        if re.match(r"\| \d+ \|", line)
    ]
    assert [(r[0], r[1]) for r in rounds] == [("1", "bare"), ("1", "shoplake")]
    for number, server, p50, p99, peak in rounds:
        last = figures[(server, "open 1,000/s")]  # one round: the last is the only one
        assert (p50, p99, peak) == (last["p50"], last["p99"], last["max"]), number
