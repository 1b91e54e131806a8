"""Where a benchmark works: a fresh directory under the data dir with a valkey of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.bench.ingest import _clean, _platform

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.platform import Platform


@contextmanager
def valkey_workspace(settings: Settings, name: str) -> Iterator[Platform]:
    """A platform on ``<data_dir>/<name>`` (emptied first) whose valkey, on a free port, is
    stopped by PID at the end whatever happens — also one a killed earlier run left behind.
    The caller starts valkey when its phases need it (``start_valkey(shop.settings)``)."""
    from shoplake.bench.stream import _server_settings
    from shoplake.services import stop_valkey

    work = (settings.data_dir / name).absolute()
    server = _server_settings(settings, work)
    stop_valkey(server)
    _clean(work)
    try:
        yield _platform(server, work)
    finally:
        stop_valkey(server)


def write_report(report: Path, text: str) -> Path:
    """Write a Markdown report (creating its folder); return its absolute path."""
    path = report.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
