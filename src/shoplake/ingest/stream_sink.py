"""The stream's lakehouse sink: ``bronze.events`` and ``bronze.dead_letters`` with positions.

Each table records, per event-log shard, the position up to which the log has been applied
to it — as a table property written in the same Iceberg commit as the rows (and copied into
the snapshot summary). A worker restarted after a crash reads each shard from the smaller of
the two tables' positions and skips, per table, what that table already holds: exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

EVENTS_TABLE = "bronze.events"
DEAD_LETTERS_TABLE = "bronze.dead_letters"
POSITIONS_PREFIX = "shoplake.stream.position."
STREAM_META = (
    pa.field("_shard", pa.int32()),
    pa.field("_position", pa.string()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
)


def sink_schema(payload: pa.Schema) -> pa.Schema:
    """A payload schema plus the shard, position and ingest time of each row."""
    return pa.schema(list(payload) + list(STREAM_META))


def open_sink_table(catalog: Catalog, name: str, payload: pa.Schema) -> Table:
    """Load a sink table, creating it on first use."""
    return catalog.create_table_if_not_exists(
        name, schema=sink_schema(payload), properties={"shoplake.layer": "bronze"}
    )


def read_positions(table: Table, backend: str) -> dict[int, str]:
    """Per-shard positions a sink table has applied, for one event-log backend."""
    prefix = f"{POSITIONS_PREFIX}{backend}."
    return {
        int(key.removeprefix(prefix)): value
        for key, value in table.properties.items()
        if key.startswith(prefix)
    }


@dataclass
class Batch:
    """Rows for one sink table and the shard positions they bring it up to."""

    rows: pa.Table
    positions: dict[int, str]


def with_stream_meta(
    rows: pa.Table, shards: list[int], positions: list[str], ingested_at: dt.datetime
) -> pa.Table:
    """Append the stream metadata columns to payload rows."""
    n = rows.num_rows
    return (
        rows.append_column(STREAM_META[0], pa.array(shards, pa.int32()))
        .append_column(STREAM_META[1], pa.array(positions, pa.string()))
        .append_column(
            STREAM_META[2],
            pa.nulls(n, STREAM_META[2].type).fill_null(pa.scalar(ingested_at, STREAM_META[2].type)),
        )
    )


COMMIT_ATTEMPTS = 20


def commit(table: Table, batch: Batch, backend: str, worker: str) -> None:
    """Append rows (if any) and advance shard positions in one Iceberg commit.

    With no rows only the positions move (a metadata update, no new snapshot). Concurrent
    workers own disjoint shards and property keys, so a commit that lost a race to another
    worker is simply rebuilt on the refreshed table and tried again, with a growing pause.
    """
    from pyiceberg.exceptions import CommitFailedException

    if not batch.positions and not batch.rows.num_rows:
        return
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            _commit_once(table, batch, backend, worker)
            return
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            table.refresh()
            time.sleep(min(0.5, 0.01 * 2**attempt) * random.uniform(0.5, 1.0))


def _commit_once(table: Table, batch: Batch, backend: str, worker: str) -> None:
    properties = {f"{POSITIONS_PREFIX}{backend}.{s}": p for s, p in batch.positions.items()}
    with table.transaction() as tx:
        if batch.rows.num_rows:
            summary = {
                "shoplake.stream.worker": worker,
                "shoplake.stream.positions": json.dumps(
                    {str(s): p for s, p in batch.positions.items()}, sort_keys=True
                ),
            }
            tx.append(batch.rows, snapshot_properties=summary)
        if properties:
            tx.set_properties(properties)


def recent_event_ids(table: Table, shards: list[int], limit: int) -> set[str]:
    """Event ids the table already holds for these shards (the newest ``limit`` of them).

    Rebuilt from the table at start, so the de-duplication window always agrees with what
    was committed, whatever happened to the previous process.
    """
    if table.current_snapshot() is None:
        return set()
    from shoplake.lake.expressions import one_of

    scan = table.scan(
        row_filter=one_of("_shard", shards), selected_fields=("event_id", "_ingested_at")
    )
    data = scan.to_arrow()
    if data.num_rows > limit:
        import pyarrow.compute as pc

        order = pc.sort_indices(data, sort_keys=[("_ingested_at", "descending")])
        data = data.take(order[:limit])
    return set(data.column("event_id").to_pylist())
