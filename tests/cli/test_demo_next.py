"""Every line the demo prints under "Try next" and "Open the dashboard" runs as printed.

The demo runs on a small generated shop; each printed line then runs in bash, in the demo's
working directory, after the ``export`` lines it printed. Lines that start a long-lived server
(``shoplake ui``, ``shoplake serve``) must answer HTTP on their port and are then stopped by PID.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shoplake.services import child_setup, free_port
from tests.cli.test_cli import run

SERVERS = {"shoplake ui": "SHOPLAKE_ORCHESTRATE__UI_PORT", "shoplake serve": "SHOPLAKE_SERVE__PORT"}
REAL_FIGURES = "2,996 order lines, revenue 9,604,190.61, profit 3,825,880.25"


def printed_lines(text: str, heading: str) -> list[str]:
    """The indented lines under a heading of the demo's output, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


def shell(exports: list[str], line: str) -> str:
    return "\n".join([*exports, line])


def wait_for_http(port: int, process: subprocess.Popen[str], seconds: float = 90.0) -> int:
    """The status of the first answer on ``port`` (or -1 if the process exits first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return -1
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2.0).status_code
        except httpx.HTTPError:
            time.sleep(0.5)
    return -1


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def run_server(line: str, exports: list[str], env: dict[str, str], cwd: Path) -> str | None:
    """Start a server line, check it answers, stop it by PID; None when it did, else why not."""
    port = int(env[next(v for k, v in SERVERS.items() if line.startswith(k))])
    process = subprocess.Popen(
        ["bash", "-c", shell(exports, line)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=child_setup,  # noqa: PLW1509 - default signal handling, stopped by PID
        start_new_session=True,
    )
    try:
        status = wait_for_http(port, process)
    finally:
        stop(process)
    if status in (200, 302, 307):
        return None
    _, errors = process.communicate(timeout=10)
    return f"no answer on port {port} (status {status}): {errors.strip()[-300:]}"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on for the whole test."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        yield int(blocker.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.timeout(2400)
def test_every_printed_line_runs(tmp_path: Path, taken_port: int) -> None:
    """The configured valkey port is taken throughout: the demo runs on a free one of its own
    and tells the lines below to use it."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "SHOPLAKE_SERVICES__VALKEY_PORT": str(taken_port),
        "SHOPLAKE_SERVE__PORT": str(free_port()),
        "SHOPLAKE_ORCHESTRATE__UI_PORT": str(free_port()),
    }
    env.pop("SHOPLAKE_DATA_DIR", None)
    demo_dir = tmp_path / "demo"
    demo = run(
        "--data-dir", str(demo_dir), "demo", "--scale", "0.02", "--orders", "30",
        "--events", "3000", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    lines = printed_lines(demo.stdout, "Try next") + printed_lines(
        demo.stdout, "Open the dashboard"
    )
    started = re.search(r"Started valkey \(pid \d+, port (\d+),", demo.stdout)
    assert started is not None and int(started.group(1)) != taken_port
    exports = [line for line in lines if line.startswith("export ")]
    assert exports == [
        f"export SHOPLAKE_DATA_DIR={demo_dir}".ljust(39) + " # this demo's data",
        f"export SHOPLAKE_SERVICES__VALKEY_PORT={started.group(1)}".ljust(39)
        + f" # port {taken_port} is taken; the demo's valkey used {started.group(1)}",
    ]
    assert not any("../shared" in line for line in lines)
    picked = re.search(r"shoplake recommend (\d+) && shoplake similar S\d+_\d+", demo.stdout)
    assert picked is not None
    customer = picked.group(1)
    assert f"customer {customer} (" in demo.stdout  # a customer the demo served
    failures: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            continue
        if any(line.startswith(server) for server in SERVERS):
            problem = run_server(line, exports, env, tmp_path)
            if problem:
                failures[line] = problem
            continue
        result = subprocess.run(
            ["bash", "-c", shell(exports, line)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            failures[line] = f"exit {result.returncode}: {result.stderr.strip()[-400:]}"
        elif "demo --classicmodels" in line:
            assert REAL_FIGURES in result.stdout, result.stdout
            assert "skipped with --classicmodels: the dump stays exactly as published" in (
                result.stdout
            )
            assert "(no oracle: real customers' tastes are not known)" in result.stdout
    assert failures == {}
