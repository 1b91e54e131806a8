"""What the stream pipeline looks like right now: positions, lag, throughput, dead letters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE, read_positions
from shoplake.lake.snapshots import (
    current_rows,
    data_committed_ms,
    is_maintenance,
    iso_moment,
    summary_int,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings
    from shoplake.streams.base import EventLog


@dataclass
class StreamStatus:
    """Per-shard positions and lag, table totals and the recent commit rate."""

    backend: str
    log: str = "up"
    shards: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    dead_letters: int = 0
    last_commit: str | None = None
    events_per_second: float = 0.0
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table(catalog: Catalog, name: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        return None


def _recent_rate(table: Table, window: int = 20) -> float:
    """Events per second over the table's last ``window`` commits of events (maintenance
    rewrites add no events and are left out)."""
    commits = [s for s in table.snapshots() if not is_maintenance(s)]
    snapshots = sorted(commits, key=lambda s: s.timestamp_ms)[-window:]
    if len(snapshots) < 2:
        return 0.0
    added = sum(summary_int(s, "added-records") for s in snapshots[1:])
    span = (snapshots[-1].timestamp_ms - snapshots[0].timestamp_ms) / 1000
    return added / span if span > 0 else 0.0


def stream_status(
    settings: Settings, catalog: Catalog, event_log: EventLog | None, note: str | None = None
) -> StreamStatus:
    """Collect the stream's status from the sink tables and the event log.

    With no event log (``event_log`` None, ``note`` saying why) the lakehouse side is still
    reported: committed positions, totals, last commit; the lag is then unknown (None).
    """
    from shoplake.streams import StreamConfig

    backend = settings.stream.backend
    events, dead = _table(catalog, EVENTS_TABLE), _table(catalog, DEAD_LETTERS_TABLE)
    applied = read_positions(events, backend) if events else {}
    applied_dead = read_positions(dead, backend) if dead else {}
    status = StreamStatus(
        backend,
        log="up" if event_log is not None else "down",
        events=current_rows(events),
        dead_letters=current_rows(dead),
        note=note,
    )
    shards = (
        event_log.shards if event_log is not None else StreamConfig.from_settings(settings).shards
    )
    for shard in range(shards):
        position = applied.get(shard)
        status.shards.append(
            {
                "shard": shard,
                "events_position": position,
                "dead_letters_position": applied_dead.get(shard),
                "lag": event_log.lag(shard, position) if event_log is not None else None,
            }
        )
    if events is not None:
        status.last_commit = iso_moment(data_committed_ms(events))
        status.events_per_second = round(_recent_rate(events), 1)
    return status
