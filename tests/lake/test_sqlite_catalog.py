"""The SQLite catalog read through sqlite3: same answers as PyIceberg's SqlCatalog, and every
write still lands through it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from shoplake.errors import TableNotFoundError
from shoplake.lake.catalog import CATALOG_NAME, load_table, open_catalog
from shoplake.lake.sqlite_catalog import SqliteCatalog, readable_catalog, sqlite_path
from shoplake.platform import Platform
from tests.lake.conftest import tiny  # noqa: F401  (fixture)


def reopened(platform: Platform) -> SqliteCatalog:
    """The catalog as the next command opens it (``tiny`` created it with SqlCatalog)."""
    catalog = open_catalog(platform.settings)
    assert isinstance(catalog, SqliteCatalog)
    return catalog


def sql_catalog(platform: Platform) -> SqlCatalog:
    settings = platform.settings
    return SqlCatalog(CATALOG_NAME, uri=settings.catalog_uri, warehouse=settings.warehouse)


def test_sqlite_path_of_each_url_form() -> None:
    assert sqlite_path("sqlite:////data/lake/catalog.db") == Path("/data/lake/catalog.db")
    assert sqlite_path("sqlite:///catalog.db") == Path("catalog.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite:///catalog.db?timeout=5") is None
    assert sqlite_path("postgresql://u@db/lake") is None


def test_first_open_creates_the_catalog_then_reads_through_sqlite3(tmp_path: Path) -> None:
    platform = Platform(data_dir=tmp_path / "lake")
    first = open_catalog(platform.settings)
    assert type(first) is SqlCatalog  # nothing to read yet: SqlCatalog creates its tables
    second = open_catalog(platform.settings)
    assert type(second) is SqliteCatalog
    assert sorted(second.list_namespaces()) == [("audit",), ("bronze",), ("gold",), ("silver",)]
    assert second.list_tables("gold") == []


def test_a_sqlite_file_without_catalog_tables_opens_sql_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE other (x INTEGER)")
    assert not readable_catalog(path)
    settings = Platform(data_dir=tmp_path).settings
    assert type(open_catalog(settings)) is SqlCatalog
    assert readable_catalog(path)


def test_lookups_match_sql_catalog(tiny: Platform) -> None:  # noqa: F811
    fast, real = reopened(tiny), sql_catalog(tiny)
    assert sorted(fast.list_namespaces()) == sorted(real.list_namespaces())
    for namespace in ("bronze", "silver", "gold", "audit"):
        assert fast.list_tables(namespace) == real.list_tables(namespace)
    table = fast.load_table("bronze.items")
    twin = real.load_table("bronze.items")
    assert table.name() == twin.name() == ("bronze", "items")
    assert table.metadata == twin.metadata
    assert table.metadata_location == twin.metadata_location
    assert table.scan().to_arrow().sort_by("id").column("name").to_pylist() == [
        "kettle",
        "mug",
        "teapot",
    ]
    assert fast.table_exists("bronze.items") and not fast.table_exists("bronze.nope")
    assert fast._real is None  # reading never opened SqlCatalog (nor imported SQLAlchemy)


def test_unknown_names_raise_as_sql_catalog_does(tiny: Platform) -> None:  # noqa: F811
    fast = reopened(tiny)
    with pytest.raises(NoSuchTableError, match=r"^Table does not exist: bronze\.nope$"):
        fast.load_table("bronze.nope")
    with pytest.raises(NoSuchNamespaceError, match=r"^Namespace does not exist: nope$"):
        fast.list_tables("nope")
    with pytest.raises(TableNotFoundError, match=r"no lakehouse table 'bronze\.itemz'"):
        load_table(fast, "bronze.itemz")


def test_commits_of_a_table_it_loaded_land(tiny: Platform) -> None:  # noqa: F811
    fast = reopened(tiny)
    table = fast.load_table("bronze.items")
    before = len(table.snapshots())
    extra = table.scan().to_arrow().slice(0, 1)
    table.append(extra)  # commits through the SqlCatalog the stand-in opens on demand
    assert len(table.snapshots()) == before + 1
    assert fast.load_table("bronze.items").metadata_location == table.metadata_location
    reloaded = sql_catalog(tiny).load_table("bronze.items")
    assert reloaded.metadata_location == table.metadata_location
    assert reloaded.scan().to_arrow().num_rows == 4


def test_creating_and_dropping_tables_go_through_sql_catalog(tiny: Platform) -> None:  # noqa: F811
    fast = reopened(tiny)
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    created = fast.create_table("gold.scratch", schema=schema)
    created.append(pa.table({"id": [1, 2]}, schema=schema))
    assert fast.load_table("gold.scratch").scan().to_arrow().num_rows == 2
    assert ("gold", "scratch") in fast.list_tables("gold")
    fast.drop_table("gold.scratch")
    assert ("gold", "scratch") not in fast.list_tables("gold")
