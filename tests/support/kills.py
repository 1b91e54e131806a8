"""Killing a real process at a chosen moment: the checks that say when, and the killer."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def files(folder: Path) -> set[str]:
    """The names in ``folder`` (empty when it does not exist)."""
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def new_file_in(folder: Path) -> Callable[[], bool]:
    """A check that is true once ``folder`` holds a file it did not hold now."""
    before = files(folder)
    return lambda: bool(files(folder) - before)


def after(seconds: float) -> Callable[[], bool]:
    """A check that is true once ``seconds`` have passed from now."""
    start = time.monotonic()
    return lambda: time.monotonic() - start >= seconds


def kill_when(process: subprocess.Popen[bytes], reached: Callable[[], bool]) -> bool:
    """SIGKILL the process as soon as ``reached()``; False if it finished first."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if reached():
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return process.returncode == -signal.SIGKILL
        time.sleep(0.001)
    process.wait(timeout=30)
    return False
