"""The Iceberg catalog: a SQL catalog (SQLite by default) over a local or object-store warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from shoplake.config import mask_url
from shoplake.errors import LakeError, TableNotFoundError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings

NAMESPACES: tuple[str, ...] = ("bronze", "silver", "gold", "audit")
CATALOG_NAME = "shoplake"


def open_catalog(settings: Settings) -> Catalog:
    """Open (creating on first use) the lakehouse catalog and its namespaces."""
    from pyiceberg.catalog.sql import SqlCatalog

    uri = settings.catalog_uri
    if uri.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    warehouse = settings.warehouse
    if warehouse.startswith("file://"):
        Path(urlparse(warehouse).path).mkdir(parents=True, exist_ok=True)
    try:
        catalog = SqlCatalog(CATALOG_NAME, uri=uri, warehouse=warehouse)
        existing = {ns[0] for ns in catalog.list_namespaces()}
        for namespace in NAMESPACES:
            if namespace not in existing:
                catalog.create_namespace_if_not_exists(namespace)
    except Exception as exc:  # the SQL driver's errors vary by backend
        raise LakeError(f"cannot open catalog {mask_url(uri)!r}: {exc}") from None
    return catalog


def split_name(name: str) -> tuple[str, str]:
    """Split ``namespace.table`` into its parts, with a clear error for a bare name."""
    namespace, dot, table = name.partition(".")
    if not dot or not namespace or not table:
        raise LakeError(f"table name {name!r} must be namespace.table, e.g. bronze.orders")
    return namespace, table


def load_table(catalog: Catalog, name: str) -> Table:
    """Load ``namespace.table`` or raise TableNotFoundError naming it and what exists."""
    from pyiceberg.exceptions import NoSuchTableError

    split_name(name)
    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        known = ", ".join(list_tables(catalog)) or "none yet — run `shoplake ingest`"
        raise TableNotFoundError(f"no lakehouse table {name!r} (tables: {known})") from None


def list_tables(catalog: Catalog) -> list[str]:
    """Every table in shoplake's namespaces, as sorted ``namespace.table`` names."""
    names: list[str] = []
    for namespace in NAMESPACES:
        names.extend(f"{ns}.{table}" for ns, table in catalog.list_tables(namespace))
    return sorted(names)
