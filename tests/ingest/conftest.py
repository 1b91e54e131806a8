"""Fixtures for ingestion tests: a generated source built once, copied per test."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from shoplake.generate import schema
from shoplake.platform import Platform

SOURCE_TABLES = tuple(sorted(schema.SOURCE_TABLES))


@pytest.fixture(scope="session")
def generated_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scale-0.01 generated source (seed 42), built once per session; treat as read-only."""
    data_dir = tmp_path_factory.mktemp("generated")
    Platform(data_dir=data_dir).generate(scale=0.01, seed=42)
    return data_dir / "source.db"


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database consistently (WAL included) through the backup API."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture
def shop(tmp_path: Path, generated_source: Path) -> Platform:
    """A platform over a private copy of the generated source and an empty lakehouse."""
    data_dir = tmp_path / "shop"
    copy_sqlite(generated_source, data_dir / "source.db")
    tastes = generated_source.parent / "source_tastes.parquet"
    if tastes.exists():
        (data_dir / tastes.name).write_bytes(tastes.read_bytes())
    return Platform(data_dir=data_dir)


def source_sql(shop: Platform, *statements: str) -> None:
    """Run SQL statements on a platform's SQLite source, committed together."""
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        for statement in statements:
            conn.execute(statement)


def ingest_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``shoplake ingest ARGS`` in a real process, as a user runs it (exit code not checked)."""
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), "ingest"]
    return subprocess.run(
        [*command, "--no-progress", *args], check=False, capture_output=True, text=True, timeout=300
    )
