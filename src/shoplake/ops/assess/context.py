"""What the pillars inspect, opened once and shared: settings, catalog, tables, their history."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.ops.assess.history import SnapshotPoint, snapshot_history
from shoplake.ops.assess.model import Recorder
from shoplake.redact import redact

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings


@dataclass(frozen=True)
class DataFileInfo:
    """One data file of a table's current snapshot."""

    size: int
    records: int
    partition: str


class Context:
    """Lazily opened lakehouse state; a lakehouse that cannot be read is reported, not raised."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.lake_error: str | None = None
        self._catalog = catalog
        self._tables: dict[str, Table] = {}
        self._history: dict[str, list[SnapshotPoint]] = {}
        self._files: dict[str, list[DataFileInfo]] = {}

    @cached_property
    def catalog(self) -> Catalog | None:
        """The lakehouse catalog, or None (with :attr:`lake_error`) when it cannot be opened."""
        if self._catalog is not None:
            return self._catalog
        from shoplake.lake.catalog import open_catalog

        if self.missing is not None:
            return None  # opening would create an empty lakehouse: assessing must not write
        try:
            return open_catalog(self.settings)
        except Exception as exc:  # any backend's failure: the report says what it was
            self.lake_error = str(exc)
            return None

    @cached_property
    def table_names(self) -> list[str]:
        """Every lakehouse table (``namespace.table``), sorted; none when unreadable."""
        from shoplake.lake.catalog import list_tables

        return list_tables(self.catalog) if self.catalog is not None else []

    def table(self, name: str) -> Table:
        """A loaded table, loaded once per assessment."""
        if name not in self._tables:
            assert self.catalog is not None
            self._tables[name] = self.catalog.load_table(name)
        return self._tables[name]

    def history(self, name: str) -> list[SnapshotPoint]:
        """The table's snapshots, oldest first, with their summary totals."""
        if name not in self._history:
            self._history[name] = snapshot_history(self.table(name))
        return self._history[name]

    def files(self, name: str) -> list[DataFileInfo]:
        """The current snapshot's data files (planned from its manifests; no data is read)."""
        if name not in self._files:
            table = self.table(name)
            tasks = table.scan().plan_files() if table.current_snapshot() is not None else []
            self._files[name] = [
                DataFileInfo(t.file.file_size_in_bytes, t.file.record_count, repr(t.file.partition))
                for t in tasks
            ]
        return self._files[name]

    @property
    def missing(self) -> str | None:
        """The local SQLite catalog file when it does not exist yet (no lakehouse), else None."""
        prefix = "sqlite:///"
        uri = self.settings.catalog_uri
        if self._catalog is None and self.settings.profile == "local" and uri.startswith(prefix):
            path = Path(uri.removeprefix(prefix))
            return None if path.exists() else str(path)
        return None

    def readable(self, rec: Recorder) -> bool:
        """Whether the lakehouse can be read; records why not when it cannot."""
        if self.catalog is not None:
            return True
        if self.missing is not None:
            rec.passed("lakehouse", f"no lakehouse yet (no catalog at {self.missing})")
            return False
        rec.finding(
            "lakehouse-unreadable",
            "medium",
            "the lakehouse could not be opened, so its tables were not assessed",
            {
                "warehouse": self.settings.warehouse,
                "catalog": self._catalog_name(),
                "error": self.lake_error,
            },
            "run `shoplake doctor catalog warehouse` and fix what it reports",
        )
        return False

    def _catalog_name(self) -> str:
        if self.settings.profile == "aws":
            return f"Glue in {self.settings.aws.region}"
        return redact(self.settings.catalog_uri)
