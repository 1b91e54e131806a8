"""A port something else holds: `serve`, `ui` and `up` say so in one line and exit non-zero,
before announcing anything or starting a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoplake.services import PORT_REMEDY, ServiceError, free_port, listen_on, port_owner


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 this test process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        holder.listen()
        yield int(holder.getsockname()[1])


def _shoplake(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPLAKE_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "ui"])
def test_serve_and_ui_on_a_taken_port(command: str, taken: int, tmp_path: Path) -> None:
    done = _shoplake(tmp_path, command, "--port", str(taken))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: port {taken} on 127.0.0.1 is in use (pid {os.getpid()}) — "
        "choose another with --port\n"
    )
    assert not (tmp_path / "dagster").exists()  # nothing was started


def test_up_on_a_taken_valkey_port(taken: int, tmp_path: Path) -> None:
    done = _shoplake(tmp_path, "up", SHOPLAKE_SERVICES__VALKEY_PORT=str(taken))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: port {taken} on 127.0.0.1 is in use (pid {os.getpid()}) — "
        "stop it or choose another with services.valkey_port\n"
    )
    assert not (tmp_path / "valkey" / "valkey.pid").exists()


def test_the_holder_of_a_port_is_named(taken: int) -> None:
    assert port_owner(taken) == os.getpid()
    assert port_owner(free_port()) is None


def test_a_host_that_cannot_be_bound_is_one_line() -> None:
    with pytest.raises(ServiceError) as err:
        listen_on("no-such-host.invalid", 8000, PORT_REMEDY)
    assert str(err.value).startswith("cannot bind port 8000 on no-such-host.invalid: ")
    assert "\n" not in str(err.value)
