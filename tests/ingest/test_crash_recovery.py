"""A process killed with SIGKILL mid-ingest, then re-run, ends with the bronze of a clean run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.ingest.conftest import SOURCE_TABLES, copy_sqlite
from tests.support.lakehouse import bronze_rows

# bronze_rows drops _ingested_at: the only column that legitimately differs between runs.


def committed_tables(catalog_db: Path) -> int:
    if not catalog_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{catalog_db}?mode=ro", uri=True, timeout=0.2) as conn:
            return conn.execute("SELECT count(*) FROM iceberg_tables").fetchone()[0]
    except sqlite3.Error:
        return 0


def start_ingest(data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHOPLAKE_INGEST__BATCH_ROWS": "500"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shoplake.cli",
            "--data-dir",
            str(data_dir),
            "ingest",
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_kill_mid_ingest_then_rerun_equals_clean_run(
    tmp_path: Path, generated_source: Path
) -> None:
    clean = Platform(data_dir=tmp_path / "clean")
    copy_sqlite(generated_source, clean.settings.data_dir / "source.db")
    assert clean.ingest().ok

    crashed_dir = tmp_path / "crashed"
    copy_sqlite(generated_source, crashed_dir / "source.db")
    process = start_ingest(crashed_dir)
    deadline = time.monotonic() + 120
    # Kill once some tables have committed and others have not: genuinely mid-run.
    while committed_tables(crashed_dir / "catalog.db") < 3 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    crashed = Platform(data_dir=crashed_dir)
    partial = {s.name for s in crashed.tables() if s.snapshots}
    assert 0 < len(partial) < len(SOURCE_TABLES), "the kill must land mid-run"

    assert crashed.ingest().ok
    for table in SOURCE_TABLES:
        assert bronze_rows(crashed, table) == bronze_rows(clean, table), table
    assert crashed.ingest().rows == 0  # and the recovered lakehouse is idempotent too
