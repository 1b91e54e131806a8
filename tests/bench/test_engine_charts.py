"""The engine benchmark's charts are optional: without matplotlib (the default install has
no bench extra) the report is written without them instead of the run failing at the end."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from shoplake.bench.engines.charts import write_charts
from shoplake.bench.engines.runner import EngineBenchResults


def test_no_matplotlib_means_no_charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    results = EngineBenchResults((0.01,), ("duckdb",), 1, dt.datetime.now(dt.UTC))
    assert write_charts(results, tmp_path / "charts") == []
    assert not (tmp_path / "charts").exists()
