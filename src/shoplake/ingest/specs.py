"""Per-table ingestion strategy: defaults for the ClassicModels tables, overridable in config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoplake.errors import IngestError
from shoplake.ingest.columns import SourceColumn, reflect_primary_key, require_columns

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from shoplake.config import IngestSettings, WriteStrategy

#: Tables with a trustworthy cursor. Order lines are only ever inserted, with the order's
#: (monotonic) number; ratings carry the time they were last given. Every other ClassicModels
#: table is updated in place without an updated-at column, so it is diffed as a snapshot.
DEFAULT_CURSORS: dict[str, str] = {"orderdetails": "orderNumber", "ratings": "ratedAt"}


@dataclass(frozen=True)
class TableSpec:
    """How one source table is ingested."""

    name: str
    strategy: WriteStrategy
    primary_key: list[str]
    cursor: str | None = None


def resolve_spec(
    table: str, columns: list[SourceColumn], engine: Engine, settings: IngestSettings
) -> TableSpec:
    """Combine config overrides, defaults and the source's declared primary key."""
    override = settings.tables.get(table)
    cursor = override.cursor if override and override.cursor else DEFAULT_CURSORS.get(table)
    strategy: WriteStrategy = (override.strategy if override and override.strategy else None) or (
        "cursor" if cursor else "snapshot"
    )
    key = (override.primary_key if override else None) or reflect_primary_key(engine, table)
    if not key:
        raise IngestError(
            f"{table}: no primary key in the source; set ingest.tables.{table}.primary_key"
        )
    if strategy == "cursor" and not cursor:
        raise IngestError(f"{table}: strategy 'cursor' needs ingest.tables.{table}.cursor")
    require_columns(columns, [*key, *([cursor] if cursor else [])], table=table)
    return TableSpec(table, strategy, list(key), cursor if strategy == "cursor" else None)
