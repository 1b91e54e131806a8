"""Local files: SQLite databases (source, catalog) and directories (warehouse, faiss vectors).

No network layer applies: they are reported as skipped with why. Permission is what matters —
the file or directory exists (or can be created), can be read, and a probe write is undone.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.ops.doctor import Failed, Limits, Measured, Probe, Skipped
from shoplake.ops.probes.sql import Access, SqlContext, diagnose_error, open_engine, select_one

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from shoplake.config import Settings


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def writable_dir(directory: Path, config_key: str) -> str:
    """The directory exists (or can be created) and a probe file can be written and removed."""
    if not directory.exists():
        parent = _nearest_existing(directory)
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise Failed(
                f"{directory} does not exist and cannot be created: {parent} is not writable",
                f"create it with write access for this user, or change {config_key}",
            )
        return f"{directory} does not exist yet; {parent} is writable (created on first use)"
    if not directory.is_dir():
        raise Failed(f"{directory} is not a directory", f"remove it or change {config_key}")
    probe = directory / f".doctor-{uuid.uuid4().hex[:12]}"
    try:
        probe.write_bytes(b"shoplake doctor probe\n")
        probe.unlink()
    except OSError as exc:
        raise Failed(
            f"cannot write in {directory}: {exc.strerror}",
            f"give this user write access (chown/chmod {directory}) or change {config_key}",
        ) from None
    return f"{directory}: wrote and deleted a probe file"


class LocalProbe(Probe):
    """An endpoint on this machine's disk: network layers and login do not apply."""

    local = "local file"

    def dns(self) -> str:
        raise Skipped(f"{self.local}: no network")

    def tcp(self) -> str:
        raise Skipped(f"{self.local}: no network")

    def tls(self) -> str:
        raise Skipped(f"{self.local}: no network")

    def auth(self) -> str:
        raise Skipped(f"{self.local}: file permissions only")


class DirectoryProbe(LocalProbe):
    """A local directory shoplake writes (warehouse, vector index files)."""

    local = "local directory"

    def __init__(self, name: str, directory: Path, config_key: str) -> None:
        super().__init__(name, str(directory))
        self.directory = directory
        self.config_key = config_key

    def permission(self) -> str:
        return writable_dir(self.directory, self.config_key)

    def latency(self) -> str:
        raise Skipped("local disk")


class SqliteProbe(LocalProbe):
    """A SQLite database file; with ``missing_fix`` it must exist, else it may be created."""

    local = "SQLite file"

    def __init__(
        self,
        name: str,
        context: SqlContext,
        access: Access,
        limits: Limits,
        *,
        missing_fix: str | None = None,
    ) -> None:
        super().__init__(name, context.url)
        self.context = context
        self.access = access
        self.limits = limits
        self.missing_fix = missing_fix
        self.engine: Engine | None = None
        self.conn: Connection | None = None

    def permission(self) -> str:
        from sqlalchemy.exc import SQLAlchemyError

        database = self.context.database
        if database and database != ":memory:":
            path = Path(database)
            if not path.exists():
                return self._missing(path)
            if not os.access(path, os.R_OK | os.W_OK):
                raise Failed(
                    f"{path} is not readable and writable by this user",
                    f"chown/chmod {path}, or run shoplake as its owner",
                )
        self.engine = open_engine(self.context, self.limits.timeout)
        try:
            self.conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise diagnose_error(exc, self.context, "opening") from None
        return self.access(self.conn, self.context)

    def _missing(self, path: Path) -> str:
        if self.missing_fix is not None:
            raise Failed(f"database file {path} does not exist", self.missing_fix)
        detail = writable_dir(path.parent, self.context.config_key)
        return f"{path.name} not created yet (first use creates it); {detail}"

    def latency(self) -> Measured:
        conn = self.conn
        if conn is None:
            raise Skipped("no database file yet")
        return self.limits.latency(
            lambda: select_one(conn), "SELECT 1", f"{self.context.database} is slow: check the disk"
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()


class WarehouseProbe(DirectoryProbe):
    """The local warehouse: writable, and every table in it readable — its current metadata
    loads, its manifests and each data file's Parquet footer open."""

    def __init__(self, directory: Path, settings: Settings) -> None:
        super().__init__("warehouse", directory, "lake.warehouse")
        self.settings = settings

    def permission(self) -> str:
        from shoplake.lake.integrity import FIX, check_tables
        from shoplake.lake.sqlite_catalog import sqlite_path
        from shoplake.platform import Platform

        written = writable_dir(self.directory, self.config_key)
        catalog_file = sqlite_path(self.settings.catalog_uri)
        if catalog_file is not None and not catalog_file.exists():
            return written  # no catalog yet: no table to read, and nothing to create
        checked = check_tables(Platform(self.settings).catalog)
        if checked.broken:
            others = [exc.table for exc in checked.broken[1:]]
            more = f"; also broken: {', '.join(others)}" if others else ""
            raise Failed(checked.broken[0].problem + more, FIX)
        return (
            f"{written}; read {checked.tables} tables' metadata, manifests and "
            f"{checked.files} data-file footers"
        )
