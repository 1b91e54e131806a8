"""The local supplier API as a background process (for the demo, drills and tests)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO

from shoplake import services
from shoplake.config import Settings, child_environment
from shoplake.errors import ShoplakeError

START_TIMEOUT = 30.0


@contextlib.contextmanager
def running_api(settings: Settings, timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Serve the supplier API of ``settings`` (its data dir needs a source database) on
    ``settings.supplier.port`` in a child process; yields its base URL once ``/health``
    answers and stops the child by PID afterwards, whatever happens.

    The store is created and seeded on first start under ``<data_dir>/supplier/``.
    """
    command = [
        sys.executable,
        "-m",
        "shoplake.cli",
        "--data-dir",
        str(settings.data_dir),
        "sources",
        "api",
        "--port",
        str(settings.supplier.port),
    ]
    # stderr goes to a file, not a pipe: a full pipe would block the server.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            env=child_environment(settings),
            preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        base_url = f"http://127.0.0.1:{settings.supplier.port}"
        try:
            _wait_healthy(process, errors, base_url, timeout)
            yield base_url
        finally:
            services.stop_child(process)


def _wait_healthy(
    process: subprocess.Popen[bytes], errors: IO[bytes], base_url: str, timeout: float
) -> None:
    """Poll ``/health`` until it answers 200; on exit or timeout raise with the child's stderr."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ShoplakeError(
                f"supplier API exited with code {process.returncode}: {_stderr(errors)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    services.stop_child(process)
    raise ShoplakeError(f"supplier API not healthy within {timeout:.0f} s: {_stderr(errors)}")


def _stderr(errors: IO[bytes]) -> str:
    """The last line the child wrote to stderr (its one-line error, usually)."""
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"
