"""What the stream pipeline looks like right now: positions, lag, throughput, dead letters."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE, read_positions

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings
    from shoplake.streams.base import EventLog


@dataclass
class StreamStatus:
    """Per-shard positions and lag, table totals and the recent commit rate."""

    backend: str
    shards: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    dead_letters: int = 0
    last_commit: str | None = None
    events_per_second: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table(catalog: Catalog, name: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        return None


def _rows(table: Table | None) -> int:
    snapshot = table.current_snapshot() if table else None
    return int(snapshot.summary.get("total-records", 0)) if snapshot and snapshot.summary else 0


def _recent_rate(table: Table, window: int = 20) -> float:
    """Events per second over the table's last ``window`` commits."""
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)[-window:]
    if len(snapshots) < 2:
        return 0.0
    added = sum(int(s.summary.get("added-records", 0)) for s in snapshots[1:] if s.summary)
    span = (snapshots[-1].timestamp_ms - snapshots[0].timestamp_ms) / 1000
    return added / span if span > 0 else 0.0


def stream_status(settings: Settings, catalog: Catalog, event_log: EventLog) -> StreamStatus:
    """Collect the stream's status from the sink tables and the event log."""
    backend = settings.stream.backend
    events, dead = _table(catalog, EVENTS_TABLE), _table(catalog, DEAD_LETTERS_TABLE)
    applied = read_positions(events, backend) if events else {}
    applied_dead = read_positions(dead, backend) if dead else {}
    status = StreamStatus(backend, events=_rows(events), dead_letters=_rows(dead))
    for shard in range(event_log.shards):
        position = applied.get(shard)
        status.shards.append(
            {
                "shard": shard,
                "events_position": position,
                "dead_letters_position": applied_dead.get(shard),
                "lag": event_log.lag(shard, position),
            }
        )
    snapshot = events.current_snapshot() if events else None
    if snapshot is not None and events is not None:
        moment = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=dt.UTC)
        status.last_commit = moment.isoformat(timespec="seconds")
        status.events_per_second = round(_recent_rate(events), 1)
    return status
