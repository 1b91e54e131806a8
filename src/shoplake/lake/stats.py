"""Per-table facts for `shoplake tables`: rows, files, bytes, snapshots, last commit, watermark."""

from __future__ import annotations

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
    problem: str | None = None  # why the table cannot be read (its other figures are 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def table_stats(name: str, table: Table) -> TableStats:
    """Read a table's statistics from its current snapshot summary (no data is scanned).

    ``last_commit`` is when the rows last changed: a compaction does not make a table fresher.
    """
    from shoplake.lake.snapshots import data_committed_ms, iso_moment, summary_int
    from shoplake.lake.state import display_watermark, read_state

    snapshot = table.current_snapshot()
    state = read_state(table)
    watermark = display_watermark(state.watermark) if state and state.cursor else None
    return TableStats(
        name=name,
        rows=summary_int(snapshot, "total-records"),
        data_files=summary_int(snapshot, "total-data-files"),
        bytes=summary_int(snapshot, "total-files-size"),
        snapshots=len(table.snapshots()),
        last_commit=iso_moment(data_committed_ms(table)),
        watermark=watermark,
    )


def all_table_stats(catalog: Catalog) -> list[TableStats]:
    """Statistics of every table in the lakehouse, sorted by name; a table whose metadata
    cannot be read is listed with its problem instead."""
    from shoplake.lake.catalog import list_tables
    from shoplake.lake.integrity import CorruptTableError

    stats = []
    for name in list_tables(catalog):
        try:
            stats.append(table_stats(name, catalog.load_table(name)))
        except CorruptTableError as exc:
            stats.append(TableStats(name, 0, 0, 0, 0, None, None, problem=str(exc)))
    return stats
