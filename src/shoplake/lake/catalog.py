"""The Iceberg catalog: a SQL catalog (SQLite by default) over a local or object-store warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlparse

from shoplake.errors import LakeError, TableNotFoundError
from shoplake.redact import error_message, redact

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings

NAMESPACES: tuple[str, ...] = ("bronze", "silver", "gold", "audit")
CATALOG_NAME = "shoplake"


def open_catalog(settings: Settings) -> Catalog:
    """Open (creating on first use) the lakehouse catalog and its namespaces: a SQL catalog
    with the local profile, the AWS Glue Data Catalog over S3 with the ``aws`` profile."""
    if settings.profile == "aws":
        return _open_glue_catalog(settings)
    uri = settings.catalog_uri
    if uri.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    warehouse = settings.warehouse
    if warehouse.startswith("file://"):
        Path(urlparse(warehouse).path).mkdir(parents=True, exist_ok=True)
    try:
        catalog = _open_sql_catalog(uri, warehouse)
        existing = {ns[0] for ns in catalog.list_namespaces()}
        for namespace in NAMESPACES:
            if namespace not in existing:
                catalog.create_namespace_if_not_exists(namespace)
    except Exception as exc:  # the SQL driver's errors vary by backend
        raise LakeError(
            f"cannot open catalog {redact(uri)!r}: {error_message(exc, url=uri)}"
        ) from None
    return catalog


def _open_sql_catalog(uri: str, warehouse: str) -> Catalog:
    """A SQLite catalog PyIceberg has already set up is looked up through sqlite3, sparing
    commands that only read the import of SQLAlchemy; a new or non-SQLite one opens
    PyIceberg's SqlCatalog, which creates its tables."""
    from shoplake.lake.sqlite_catalog import SqliteCatalog, readable_catalog, sqlite_path

    path = sqlite_path(uri)
    if path is not None and readable_catalog(path):
        return cast("Catalog", SqliteCatalog(CATALOG_NAME, path, uri=uri, warehouse=warehouse))
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(CATALOG_NAME, uri=uri, warehouse=warehouse)


def _open_glue_catalog(settings: Settings) -> Catalog:
    """The Glue catalog of the ``aws`` profile; its bucket must exist (infra/aws creates it)."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
        from pyiceberg.catalog.glue import GlueCatalog
    except ImportError:
        raise LakeError("the aws profile needs the aws extra: pip install -e '.[aws]'") from None
    aws = settings.aws
    properties = {
        "warehouse": settings.warehouse,
        "glue.region": aws.region,
        "s3.region": aws.region,
    }
    if aws.endpoint_url:
        properties |= {"glue.endpoint": aws.endpoint_url, "s3.endpoint": aws.endpoint_url}
    where = f"Glue catalog in {aws.region}" + (
        f" at {aws.endpoint_url}" if aws.endpoint_url else ""
    )
    try:
        s3 = boto3.client("s3", region_name=aws.region, endpoint_url=aws.endpoint_url)
        s3.head_bucket(Bucket=aws.bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        problem = "does not exist" if code in ("404", "NoSuchBucket") else f"refused: {code}"
        raise LakeError(
            f"lakehouse bucket s3://{aws.bucket} {problem} — deploy infra/aws (`make synth`, "
            "then `cdk deploy`) or fix aws.bucket"
        ) from None
    except BotoCoreError as exc:
        raise LakeError(f"cannot reach S3 for s3://{aws.bucket}: {exc}") from None
    try:
        catalog = GlueCatalog(CATALOG_NAME, **properties)
        existing = {ns[0] for ns in catalog.list_namespaces()}
        for namespace in NAMESPACES:
            if namespace not in existing:
                catalog.create_namespace_if_not_exists(namespace)
    except (BotoCoreError, ClientError) as exc:
        raise LakeError(f"cannot open the {where}: {exc}") from None
    return catalog


def split_name(name: str) -> tuple[str, str]:
    """Split ``namespace.table`` into its parts, with a clear error for a bare name."""
    namespace, dot, table = name.partition(".")
    if not dot or not namespace or not table:
        raise LakeError(f"table name {name!r} must be namespace.table, e.g. bronze.orders")
    return namespace, table


def load_table(catalog: Catalog, name: str) -> Table:
    """Load ``namespace.table`` or raise TableNotFoundError naming it and the closest match."""
    from pyiceberg.exceptions import NoSuchTableError

    from shoplake.lake.naming import bare_table, unknown_table

    if "." not in name:
        raise TableNotFoundError(bare_table(name, list_tables(catalog)))
    split_name(name)
    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        raise TableNotFoundError(unknown_table(name, list_tables(catalog))) from None


def load_tables(catalog: Catalog, names: list[str] | None = None) -> dict[str, Table]:
    """Load every named table (default: all), resolving all names before returning any;
    TableNotFoundError carries one line per unknown name, joined by ``; ``."""
    problems: list[str] = []
    tables: dict[str, Table] = {}
    for name in names or list_tables(catalog):
        try:
            tables[name] = load_table(catalog, name)
        except TableNotFoundError as exc:
            problems.append(str(exc))
    if problems:
        raise TableNotFoundError("; ".join(problems))
    return tables


def list_tables(catalog: Catalog) -> list[str]:
    """Every table in shoplake's namespaces, as sorted ``namespace.table`` names."""
    names: list[str] = []
    for namespace in NAMESPACES:
        names.extend(f"{ns}.{table}" for ns, table in catalog.list_tables(namespace))
    return sorted(names)
