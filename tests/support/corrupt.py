"""Damage one file of a lakehouse table as a disk fault or a careless hand would, and put
a whole data dir back as it was (it must stay at its path: the catalog stores absolute ones)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

from shoplake.platform import Platform

#: How one file is damaged: ``<file>-<how>`` (also ``data-scramble``: its pages, not its
#: footer).
KINDS = (
    "data-truncate",
    "data-garbage",
    "data-delete",
    "metadata-truncate",
    "metadata-invalid",
    "metadata-shape",
    "manifest_list-truncate",
    "manifest_list-delete",
    "manifest-truncate",
    "manifest-delete",
)
#: The name shoplake gives each file in its one line.
LABELS = {
    "data": "data file",
    "metadata": "metadata file",
    "manifest_list": "manifest list",
    "manifest": "manifest",
}


def _local(uri: str) -> Path:
    return Path(urlparse(uri).path)


def corrupt(shop: Platform, table: str, kind: str) -> tuple[str, str]:
    """Damage one file of ``table`` (see :data:`KINDS`); return its label and its path
    relative to the warehouse, as shoplake's error line should name them."""
    which, how = kind.split("-")
    iceberg = shop.catalog.load_table(table)
    snapshot = iceberg.current_snapshot()
    assert snapshot is not None
    manifests = snapshot.manifests(iceberg.io)
    target = {
        "data": lambda: _local(next(iter(iceberg.scan().plan_files())).file.file_path),
        "metadata": lambda: _local(iceberg.metadata_location),
        "manifest_list": lambda: _local(snapshot.manifest_list),
        "manifest": lambda: _local(manifests[0].manifest_path),
    }[which]()
    if how == "truncate":
        os.truncate(target, min(100, target.stat().st_size // 2))
    elif how == "garbage":
        target.write_bytes(os.urandom(5000))
    elif how == "scramble":  # pages damaged, header and footer intact
        size = target.stat().st_size
        with target.open("r+b") as stream:
            stream.seek(200)
            stream.write(os.urandom(size // 2))
    elif how == "delete":
        target.unlink()
    elif how == "invalid":
        target.write_text("{not json")
    elif how == "shape":
        target.write_text('{"format-version": 2, "table-uuid": 5}')
    warehouse = _local(shop.settings.warehouse)
    return LABELS[which], str(target.relative_to(warehouse))


def snapshot_dir(source: Path, copy: Path) -> None:
    """Keep a copy of a data dir (to restore it with :func:`restore_dir`)."""
    shutil.copytree(source, copy, symlinks=True)


def restore_dir(copy: Path, target: Path) -> None:
    """Put a data dir back exactly as :func:`snapshot_dir` kept it."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(copy, target, symlinks=True)


def tree(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory``: size and modification time (ns), by relative path."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
