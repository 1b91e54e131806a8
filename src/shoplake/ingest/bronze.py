"""Bronze tables: their schema, how it follows the source (drift), and their change columns.

A bronze table holds the source columns (all optional) plus ``_op`` (insert|update|delete),
``_ingested_at`` and ``_batch_id``. A new source column or a safe type promotion (int -> long,
float -> double, wider decimal) evolves bronze; a dropped column or an incompatible type
change is refused with a SchemaDriftError naming table and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from shoplake.errors import SchemaDriftError
from shoplake.ingest.columns import SourceColumn

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table, Transaction
    from pyiceberg.types import IcebergType

OP = "_op"
INGESTED_AT = "_ingested_at"
BATCH_ID = "_batch_id"
META_FIELDS: tuple[pa.Field, ...] = (
    pa.field(OP, pa.string()),
    pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC")),
    pa.field(BATCH_ID, pa.int64()),
)
META_NAMES = frozenset(f.name for f in META_FIELDS)
ROW_GROUP_ROWS = 131_072
#: Table property naming the source table a bronze table is ingested from.
SOURCE_TABLE_PROPERTY = "shoplake.source-table"


def bronze_name(table: str) -> str:
    return f"bronze.{table}"


def iceberg_type(arrow_type: pa.DataType) -> IcebergType:
    """The Iceberg type bronze uses for an Arrow type."""
    from pyiceberg import types as it

    if pa.types.is_boolean(arrow_type):
        return it.BooleanType()
    if pa.types.is_integer(arrow_type):
        return it.IntegerType() if arrow_type.bit_width <= 32 else it.LongType()
    if pa.types.is_decimal(arrow_type):
        return it.DecimalType(arrow_type.precision, arrow_type.scale)
    if pa.types.is_floating(arrow_type):
        return it.DoubleType()
    if pa.types.is_timestamp(arrow_type):
        return it.TimestamptzType() if arrow_type.tz else it.TimestampType()
    if pa.types.is_date(arrow_type):
        return it.DateType()
    if pa.types.is_time(arrow_type):
        return it.TimeType()
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return it.BinaryType()
    return it.StringType()


def _plain(arrow_type: pa.DataType) -> pa.DataType:
    """Normalise large/view variants so types compare by meaning."""
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    return arrow_type


def bronze_columns(table: Table) -> list[SourceColumn]:
    """The source-derived columns of a bronze table, in table order."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    arrow = schema_to_pyarrow(table.schema(), include_field_ids=False)
    return [SourceColumn(f.name, _plain(f.type), True) for f in arrow if f.name not in META_NAMES]


def _widens(old: pa.DataType, new: pa.DataType) -> bool:
    """True when Iceberg can promote ``old`` to ``new`` in place."""
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        return new.bit_width > old.bit_width
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return new.bit_width > old.bit_width
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return new.scale == old.scale and new.precision > old.precision
    return False


def _fits(source: pa.DataType, bronze: pa.DataType) -> bool:
    """True when every value of the source type is stored exactly by the bronze type."""
    return source == bronze or _widens(source, bronze)


@dataclass
class SchemaPlan:
    """How bronze must change to take the source as it is now."""

    write_columns: list[SourceColumn]
    added: list[SourceColumn] = field(default_factory=list)
    promoted: list[tuple[SourceColumn, pa.DataType]] = field(default_factory=list)
    #: Bronze columns removed (only when a full refresh replaces the table's content).
    dropped: list[str] = field(default_factory=list)

    @property
    def changes_schema(self) -> bool:
        return bool(self.added or self.promoted or self.dropped)

    def describe(self, table: str) -> list[str]:
        """One log line per schema change."""
        lines = [f"bronze.{table}: column {name!r} dropped" for name in self.dropped]
        lines += [
            f"bronze.{table}: new source column {c.name!r} ({c.arrow_type}) added"
            for c in self.added
        ]
        lines += [
            f"bronze.{table}: column {c.name!r} widened from {old} to {c.arrow_type}"
            for c, old in self.promoted
        ]
        return lines

    def apply(self, tx: Transaction) -> None:
        """Stage the schema changes in a transaction (committed with the data)."""
        if not self.changes_schema:
            return
        if self.dropped:  # first, so a retyped column can come back under its own name
            with tx.update_schema() as update:
                for name in self.dropped:
                    update.delete_column(name)
        with tx.update_schema() as update:
            for column in self.added:
                update.add_column(column.name, iceberg_type(column.arrow_type))
                update.move_before(column.name, OP)  # keep the change columns last
            for column, _old in self.promoted:
                update.update_column(column.name, field_type=iceberg_type(column.arrow_type))


def plan_schema(table: str, source: list[SourceColumn], bronze: list[SourceColumn]) -> SchemaPlan:
    """Compare source columns with bronze; raise SchemaDriftError on an unsafe difference."""
    by_name = {c.name: c for c in source}
    _refuse_meta_names(table, source)
    for column in bronze:
        if column.name not in by_name:
            raise SchemaDriftError(
                f"{table}.{column.name}: column was dropped from the source; bronze keeps its "
                f"history, so restore it or rebuild with `shoplake ingest {table} --full-refresh`"
            )
    plan = SchemaPlan(write_columns=[])
    for old in bronze:
        new = by_name[old.name]
        if _fits(new.arrow_type, old.arrow_type):
            plan.write_columns.append(old)
        elif _widens(old.arrow_type, new.arrow_type):
            plan.write_columns.append(new)
            plan.promoted.append((new, old.arrow_type))
        else:
            raise SchemaDriftError(
                f"{table}.{old.name}: source type changed from {old.arrow_type} to "
                f"{new.arrow_type}, which bronze cannot store; nothing written for {table} "
                f"(rebuild with `shoplake ingest {table} --full-refresh`)"
            )
    known = {c.name for c in bronze}
    for column in source:
        if column.name not in known:
            plan.write_columns.append(column)
            plan.added.append(column)
    return plan


def plan_replace(table: str, source: list[SourceColumn], bronze: list[SourceColumn]) -> SchemaPlan:
    """Bronze's schema made to match the source, for a full refresh that replaces every row.

    Columns gone from the source are dropped; a column whose type bronze cannot widen is
    dropped and added back with the new type (old snapshots keep their own schema).
    """
    _refuse_meta_names(table, source)
    by_name = {c.name: c for c in source}
    plan = SchemaPlan(write_columns=[])
    for old in bronze:
        new = by_name.get(old.name)
        if new is not None and _fits(new.arrow_type, old.arrow_type):
            plan.write_columns.append(old)
        elif new is not None and _widens(old.arrow_type, new.arrow_type):
            plan.write_columns.append(new)
            plan.promoted.append((new, old.arrow_type))
        else:
            plan.dropped.append(old.name)
    kept = {c.name for c in plan.write_columns}
    plan.added = [c for c in source if c.name not in kept]
    plan.write_columns += plan.added
    return plan


def _refuse_meta_names(table: str, source: list[SourceColumn]) -> None:
    for column in source:
        if column.name in META_NAMES:
            raise SchemaDriftError(
                f"{table}.{column.name}: source column name clashes with bronze's own column"
            )


def landed_source_tables(catalog: Catalog) -> list[str]:
    """Source tables batch ingest has landed in bronze, whether or not the source has them."""
    from pyiceberg.exceptions import NoSuchTableError

    from shoplake.lake.catalog import list_tables

    names = []
    for identifier in list_tables(catalog):
        if not identifier.startswith("bronze."):
            continue
        try:
            properties = catalog.load_table(identifier).properties
        except (NoSuchTableError, OSError, ValueError):
            continue  # unreadable metadata is reported by the commands that read the table
        if source := properties.get(SOURCE_TABLE_PROPERTY):
            names.append(source)
    return names


def write_schema(columns: list[SourceColumn]) -> pa.Schema:
    """The Arrow schema of rows appended to bronze: source columns then change columns."""
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns] + list(META_FIELDS))


def create_bronze(catalog: Catalog, table: str, columns: list[SourceColumn]) -> Table:
    """Create an empty bronze table for a source table."""
    return catalog.create_table(
        bronze_name(table),
        schema=write_schema(columns),
        properties={
            "shoplake.layer": "bronze",
            SOURCE_TABLE_PROPERTY: table,
            # Small row groups let a filtered read (rows on a watermark) skip by statistics.
            "write.parquet.row-group-limit": str(ROW_GROUP_ROWS),
        },
    )
