"""Reading Iceberg snapshot summaries without tripping over what a summary may lack.

PyIceberg's ``Summary`` is a mapping whose ``[key]`` answers None for a missing key instead of
raising ``KeyError``, so ``summary.get(key, default)`` never returns the default. A summary can
also be absent, belong to a snapshot that maintenance expired, or lack the totals a writer
did not record (a delete, a replace written by another engine). Every reader goes through
these helpers, which answer a default in all of those cases.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

#: Summary key with which shoplake tags the snapshots its maintenance writes.
MAINTENANCE_KEY = "shoplake.maintenance"
#: Summary keys of a maintenance snapshot: the snapshot whose rows it holds, and its time.
DATA_SNAPSHOT_KEY = "shoplake.data-snapshot-id"
DATA_COMMIT_KEY = "shoplake.data-committed-at-ms"


def summary_dict(snapshot: Snapshot | None) -> dict[str, str]:
    """A snapshot's summary properties as a plain dict (empty when there is none)."""
    summary = snapshot.summary if snapshot is not None else None
    if summary is None:
        return {}
    return dict(summary.additional_properties or {})


def summary_value(snapshot: Snapshot | None, key: str) -> str | None:
    """One summary property, or None when the snapshot, its summary or the key is missing."""
    value = summary_dict(snapshot).get(key)
    return None if value is None else str(value)


def summary_int(snapshot: Snapshot | None, key: str, default: int = 0) -> int:
    """A numeric summary property (``total-records``, ``added-records``…), else ``default``."""
    value = summary_value(snapshot, key)
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def operation(snapshot: Snapshot | None) -> str:
    """The snapshot's operation (``append``, ``overwrite``, ``replace``, ``delete``) or ``""``."""
    summary = snapshot.summary if snapshot is not None else None
    return str(summary.operation.value) if summary is not None else ""


def is_maintenance(snapshot: Snapshot | None) -> bool:
    """Whether the snapshot only reorganised files (a compaction: no row added or removed)."""
    return operation(snapshot) == "replace" or summary_value(snapshot, MAINTENANCE_KEY) is not None


def current_rows(table: Table | None) -> int:
    """Rows of a table's current snapshot, from its summary (0 for a missing or empty table)."""
    return summary_int(table.current_snapshot() if table is not None else None, "total-records")


def last_data_snapshot(table: Table) -> tuple[int, int] | None:
    """The id and time (epoch ms) of the snapshot holding the table's rows as they are, or
    None for a table with no snapshot.

    That is the newest snapshot that is not maintenance: a compaction holds the same rows as
    the snapshot it rewrote, and records that one's id and time (``DATA_SNAPSHOT_KEY``,
    ``DATA_COMMIT_KEY``) so the answer survives the expiry of the snapshots before it.
    """
    current = snapshot = table.current_snapshot()
    while snapshot is not None:
        if not is_maintenance(snapshot):
            return snapshot.snapshot_id, snapshot.timestamp_ms
        recorded_id = summary_int(snapshot, DATA_SNAPSHOT_KEY, -1)
        recorded_ms = summary_int(snapshot, DATA_COMMIT_KEY, -1)
        if recorded_id >= 0 and recorded_ms >= 0:
            return recorded_id, recorded_ms
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return (current.snapshot_id, current.timestamp_ms) if current is not None else None


def data_committed_ms(table: Table) -> int | None:
    """When the table's rows last changed (epoch ms): compactions do not count."""
    last = last_data_snapshot(table)
    return last[1] if last is not None else None


def data_snapshot_id(table: Table) -> int | None:
    """The snapshot whose rows the table holds now: compactions do not count."""
    last = last_data_snapshot(table)
    return last[0] if last is not None else None


def iso_moment(epoch_ms: int | None) -> str | None:
    """An epoch-millisecond moment as ISO 8601 UTC to the second, or None."""
    if epoch_ms is None:
        return None
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="seconds")
