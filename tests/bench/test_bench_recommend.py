"""The recommender benchmark at a tiny scale: every section, figures that agree with each other."""

from __future__ import annotations

import re

import pytest

from shoplake.bench.recommend import LOOKUP_TARGET_MS, run_recommend_benchmark
from tests.bench.test_bench_ingest import _number, table_under
from tests.support.bench import run_valkey_benchmark

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_valkey_benchmark(
        tmp_path_factory,
        run_recommend_benchmark,
        "bench-recommend",
        scale=0.02,
        lookups=300,
        sessions=150,
    )


def test_report_has_training_metrics_and_latencies(report: str) -> None:
    for heading in ("# Recommender benchmark", "## Machine", "## Training", "## Serving latency"):
        assert heading in report
    stages = {r["stage"]: _number(r["seconds"]) for r in table_under(report, "## Training")}
    assert set(stages) == {"generate", "ingest", "transform", "train", "push to online store"}
    assert all(seconds > 0 for seconds in stages.values())
    latencies = {r["operation"]: r for r in table_under(report, "## Serving latency")}
    assert _number(latencies["precomputed lookup (GET + JSON decode)"]["calls"]) == 300
    assert _number(latencies["live: read session → score → store"]["calls"]) == 150
    for row in latencies.values():
        assert 0 < _number(row["p50"]) <= _number(row["p99"]) <= _number(row["max"])


def test_verdict_matches_the_measured_p99(report: str) -> None:
    latencies = {r["operation"]: r for r in table_under(report, "## Serving latency")}
    p99 = _number(latencies["precomputed lookup (GET + JSON decode)"]["p99"])
    verdict = re.search(r"\*\*([\d.]+) ms measured vs ≤ 5 ms target — (NOT MET|MET)\*\*", report)
    assert verdict is not None
    assert float(verdict.group(1)) == pytest.approx(p99, abs=0.001)
    assert verdict.group(2) == ("MET" if p99 <= LOOKUP_TARGET_MS else "NOT MET")
