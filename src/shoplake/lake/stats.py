"""Per-table facts for `shoplake tables`: rows, files, bytes, snapshots, last commit, watermark."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table


@dataclass(frozen=True)
class TableStats:
    """What one lakehouse table holds right now."""

    name: str
    rows: int
    data_files: int
    bytes: int
    snapshots: int
    last_commit: str | None
    watermark: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def table_stats(name: str, table: Table) -> TableStats:
    """Read a table's statistics from its current snapshot summary (no data is scanned)."""
    from shoplake.lake.state import display_watermark, read_state

    snapshot = table.current_snapshot()
    summary: dict[str, str] = {}
    last_commit = None
    if snapshot is not None:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        moment = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=dt.UTC)
        last_commit = moment.isoformat(timespec="seconds")
    state = read_state(table)
    watermark = display_watermark(state.watermark) if state and state.cursor else None
    return TableStats(
        name=name,
        rows=int(summary.get("total-records", 0)),
        data_files=int(summary.get("total-data-files", 0)),
        bytes=int(summary.get("total-files-size", 0)),
        snapshots=len(table.snapshots()),
        last_commit=last_commit,
        watermark=watermark,
    )


def all_table_stats(catalog: Catalog) -> list[TableStats]:
    """Statistics of every table in the lakehouse, sorted by name."""
    from shoplake.lake.catalog import list_tables

    return [table_stats(name, catalog.load_table(name)) for name in list_tables(catalog)]
