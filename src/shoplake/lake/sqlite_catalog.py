"""PyIceberg's SQL catalog on a SQLite file, looked up through the standard library's sqlite3.

PyIceberg's ``SqlCatalog`` imports SQLAlchemy and probes its tables when it opens (≈0.2 s of a
command's start), while most commands only list and load tables. ``SqliteCatalog`` answers
those lookups with one sqlite3 query each, on a fresh read-only connection, and opens the real
``SqlCatalog`` on the first call it does not answer itself (creating tables or namespaces,
dropping, committing, …), delegating to it from then on. Tables it loads name it as their
catalog, so their commits and refreshes go through it too; the two read the same rows, so what
either sees is what the other would.
"""

from __future__ import annotations

import inspect
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table
    from pyiceberg.typedef import Identifier

_TABLE_ROWS = (
    "FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? "
    "AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)"
)
_OWN = frozenset({"name", "properties", "_path", "_real", "_lock"})


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (SQLAlchemy's form: four slashes for an absolute
    path), or None for any other URL, an in-memory database or one with options."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or "?" in uri:
        return None
    path = uri[len(prefix) :]
    return Path(path) if path and path != ":memory:" else None


def readable_catalog(path: Path) -> bool:
    """True when ``path`` holds PyIceberg's catalog tables in their current (v1) layout."""
    if not path.is_file():
        return False
    try:
        with closing(_connect(path)) as con:
            con.execute("SELECT iceberg_type FROM iceberg_tables LIMIT 0")
            con.execute("SELECT namespace FROM iceberg_namespace_properties LIMIT 0")
    except sqlite3.Error:
        return False
    return True


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


class SqliteCatalog:
    """A stand-in for ``SqlCatalog`` on one SQLite file: lookups through sqlite3, everything
    else through a ``SqlCatalog`` opened on first need."""

    def __init__(self, name: str, path: Path, **properties: str) -> None:
        self.name = name
        self.properties = properties
        self._path = path
        self._real: SqlCatalog | None = None
        self._lock = threading.Lock()

    def sql_catalog(self) -> SqlCatalog:
        """The real ``SqlCatalog`` over the same file (opened once, on first call)."""
        with self._lock:
            if self._real is None:
                from pyiceberg.catalog.sql import SqlCatalog

                self._real = SqlCatalog(self.name, **self.properties)
            return self._real

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") or attribute in _OWN:
            raise AttributeError(attribute)
        from pyiceberg.catalog import Catalog

        if isinstance(inspect.getattr_static(Catalog, attribute, None), staticmethod):
            return getattr(Catalog, attribute)  # name helpers: no database needed
        return getattr(self.sql_catalog(), attribute)

    def supports_server_side_planning(self) -> bool:
        """Scans are planned here, from the table's manifests (as with SqlCatalog)."""
        return False

    def _rows(self, sql: str, *parameters: str) -> list[tuple[Any, ...]]:
        with closing(_connect(self._path)) as con:
            return con.execute(sql, parameters).fetchall()

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        """Top-level namespaces (those holding tables or properties); nested ones: SqlCatalog."""
        if namespace:
            return self.sql_catalog().list_namespaces(namespace)
        names = self._rows(
            "SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ? UNION "
            "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?",
            self.name,
            self.name,
        )
        return sorted({(name.split(".")[0],) for (name,) in names})

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        """Tables of one namespace, as ``(namespace, table)``; NoSuchNamespaceError when the
        namespace does not exist, as SqlCatalog raises."""
        from pyiceberg.catalog import Catalog
        from pyiceberg.exceptions import NoSuchNamespaceError

        name = Catalog.namespace_to_string(namespace)
        rows = self._rows(f"SELECT table_name {_TABLE_ROWS}", self.name, name)
        if not rows and (name,) not in self.list_namespaces():
            raise NoSuchNamespaceError(f"Namespace does not exist: {name}")
        return [(*Catalog.identifier_to_tuple(name), table) for (table,) in rows]

    def table_exists(self, identifier: str | Identifier) -> bool:
        """Whether the catalog lists ``identifier`` as a table."""
        return self._metadata_location(identifier) is not None

    def load_table(self, identifier: str | Identifier) -> Table:
        """The table at its current metadata file; NoSuchTableError when there is none. Its
        FileIO is made when first used (see lake.lazy_table)."""
        from pyiceberg.catalog import Catalog
        from pyiceberg.exceptions import NoSuchTableError

        from shoplake.lake.integrity import check_metadata
        from shoplake.lake.lazy_table import LazyIoTable, read_metadata

        location = self._metadata_location(identifier)
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        name = Catalog.table_name_from(identifier)
        if location is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}")
        try:
            metadata = read_metadata(self.properties, location)
        except Exception as exc:  # JSON, pydantic and I/O errors: CorruptTableError names the file
            check_metadata(f"{namespace}.{name}", location, self.properties.get("warehouse"), exc)
            raise
        return LazyIoTable(
            identifier=(*Catalog.identifier_to_tuple(namespace), name),
            metadata=metadata,
            metadata_location=location,
            io_properties={**self.properties, **metadata.properties},
            catalog=self,  # duck-typed: commits reach SqlCatalog
        )

    def _metadata_location(self, identifier: str | Identifier) -> str | None:
        from pyiceberg.catalog import Catalog

        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        rows = self._rows(
            f"SELECT metadata_location {_TABLE_ROWS} AND table_name = ?",
            self.name,
            namespace,
            Catalog.table_name_from(identifier),
        )
        return rows[0][0] if rows and rows[0][0] else None
