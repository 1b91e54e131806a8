"""Fixtures for the Dagster definitions: platforms with short retry delays."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.platform import Platform

FAST_RETRIES = {"orchestrate.retry_delay_seconds": 0.3, "orchestrate.max_retries": 4}


def fast_platform(data_dir: Path) -> Platform:
    """A platform whose retry policy waits 0.3 s, 0.6 s, 1.2 s, 2.4 s between attempts."""
    return Platform(data_dir=data_dir, **FAST_RETRIES)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated source (scale 0.01, seed 42), created once per module; copy it."""
    data_dir = tmp_path_factory.mktemp("generated")
    Platform(data_dir=data_dir).generate(scale=0.01, seed=42)
    return data_dir / "source.db"
