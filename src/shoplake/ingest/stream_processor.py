"""The stream processor: event log → validation → de-duplication → micro-batches in bronze.

One worker owns a set of shards (locked under the data dir) and reads each from the position
committed with the data. Valid events go to ``bronze.events``, malformed ones to
``bronze.dead_letters`` with the reason; retried events (same ``event_id``) land once. Session
state in the online store is updated as soon as events are read (at-least-once, idempotent
enough for recommendations); the lakehouse is exactly-once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.ingest.locks import table_lock
from shoplake.ingest.stream_sink import (
    DEAD_LETTERS_TABLE,
    EVENTS_TABLE,
    Batch,
    commit,
    open_sink_table,
    read_positions,
    recent_event_ids,
    with_stream_meta,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.config import Settings
    from shoplake.streams.base import EventLog, Record

log = logging.getLogger(__name__)


@dataclass
class ProcessStats:
    """What a worker did."""

    read: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    skipped_committed: int = 0
    commits: int = 0
    seconds: float = 0.0
    lag: dict[int, int] = field(default_factory=dict)
    live_sessions: int = 0  # session recommendations recomputed (with a promoted model)

    def merge(self, other: ProcessStats) -> None:
        counts = ("read", "valid", "invalid", "duplicates", "skipped_committed", "commits")
        for name in (*counts, "live_sessions"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds = max(self.seconds, other.seconds)
        self.lag.update(other.lag)


class SeenIds:
    """A bounded set of recent event ids (oldest forgotten first)."""

    def __init__(self, initial: set[str], limit: int) -> None:
        self._order: deque[str] = deque(initial)
        self._ids = set(initial)
        self._limit = limit

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids.add(event_id)
        self._order.append(event_id)
        while len(self._order) > self._limit:
            self._ids.discard(self._order.popleft())


@dataclass
class _Pending:
    events: list[Any] = field(default_factory=list)
    event_meta: list[tuple[int, str]] = field(default_factory=list)
    dead: list[tuple[Any, int, str]] = field(default_factory=list)  # (Invalid, shard, position)
    since: float = field(default_factory=time.monotonic)

    def __len__(self) -> int:
        return len(self.events) + len(self.dead)


def owned_shards(shards: int, worker: int, workers: int) -> list[int]:
    """The shards worker ``worker`` of ``workers`` owns: every ``workers``-th one."""
    return [s for s in range(shards) if s % workers == worker]


class StreamWorker:
    """Processes the shards it owns until told to stop (or the log runs dry)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        event_log: EventLog,
        shards: list[int],
        *,
        known_products: frozenset[str] | None,
        on_events: Callable[[list[Any]], None] | None = None,
        name: str = "worker-0",
    ) -> None:
        from shoplake.streams.events import DEAD_LETTERS_SCHEMA, EVENTS_SCHEMA

        self.settings = settings
        self.log = event_log
        self.shards = shards
        self.known_products = known_products
        self.on_events = on_events
        self.name = name
        self.backend = settings.stream.backend
        self.events_table = open_sink_table(catalog, EVENTS_TABLE, EVENTS_SCHEMA)
        self.dead_table = open_sink_table(catalog, DEAD_LETTERS_TABLE, DEAD_LETTERS_SCHEMA)

    def _start_positions(self) -> tuple[dict[int, str], dict[int, str], dict[int, str | None]]:
        applied_events = read_positions(self.events_table, self.backend)
        applied_dead = read_positions(self.dead_table, self.backend)
        cursor: dict[int, str | None] = {}
        for shard in self.shards:
            a, b = applied_events.get(shard), applied_dead.get(shard)
            cursor[shard] = (
                None if a is None or b is None else (a if self.log.compare(a, b) <= 0 else b)
            )
        return applied_events, applied_dead, cursor

    def run(
        self,
        *,
        until_idle: bool = False,
        max_events: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> ProcessStats:
        """Process until idle, ``max_events`` read, or ``should_stop()``; commit before leaving."""
        with ExitStack() as locks:
            for shard in self.shards:
                locks.enter_context(
                    table_lock(self.settings.locks_dir, f"stream-{self.backend}-shard-{shard}")
                )
            return self._loop(until_idle, max_events, should_stop)

    def _loop(
        self, until_idle: bool, max_events: int | None, should_stop: Callable[[], bool]
    ) -> ProcessStats:
        from shoplake.streams.events import Invalid, validate

        started = time.monotonic()
        stats = ProcessStats()
        applied_events, applied_dead, cursor = self._start_positions()
        seen = SeenIds(
            recent_event_ids(self.events_table, self.shards, self.settings.stream.dedupe_window),
            self.settings.stream.dedupe_window,
        )
        pending = _Pending()
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
        in_flight: Future[None] | None = None
        batch_events = self.settings.stream.batch_events
        batch_seconds = self.settings.stream.batch_seconds
        compare = self.log.compare
        try:
            while True:
                got = 0
                fresh: list[Any] = []
                for shard in self.shards:
                    budget = (
                        batch_events
                        if max_events is None
                        else min(batch_events, max_events - stats.read)
                    )
                    if budget <= 0:
                        break
                    records: list[Record] = self.log.read(shard, cursor[shard], budget)
                    got += len(records)
                    stats.read += len(records)
                    now = dt.datetime.now(dt.UTC)
                    for record in records:
                        cursor[shard] = record.position
                        result = validate(
                            record.payload, known_products=self.known_products, now=now
                        )
                        if isinstance(result, Invalid):
                            done = applied_dead.get(shard)
                            if done is None or compare(record.position, done) > 0:
                                stats.invalid += 1
                                pending.dead.append((result, shard, record.position))
                            continue
                        done = applied_events.get(shard)
                        if done is not None and compare(record.position, done) <= 0:
                            stats.skipped_committed += 1
                            continue
                        if result.event_id in seen:
                            stats.duplicates += 1
                            continue
                        seen.add(result.event_id)
                        stats.valid += 1
                        fresh.append(result)
                        pending.events.append(result)
                        pending.event_meta.append((shard, record.position))
                if fresh and self.on_events is not None:
                    self.on_events(fresh)
                idle = got == 0
                due = (
                    len(pending) >= batch_events
                    or time.monotonic() - pending.since >= batch_seconds
                )
                stop = should_stop() or (max_events is not None and stats.read >= max_events)
                if due or stop or (idle and until_idle):
                    # Commits run one at a time in the background, in order, so reading (and the
                    # session state updates) go on while a micro-batch is being committed.
                    if in_flight is not None:
                        in_flight.result()
                    in_flight = committer.submit(
                        self._commit, pending, dict(cursor), applied_events, applied_dead, stats
                    )
                    pending = _Pending()
                if stop or (idle and until_idle):
                    break
                if idle:
                    time.sleep(0.01)
            if in_flight is not None:
                in_flight.result()
        finally:
            committer.shutdown(wait=True)
        stats.lag = {s: self.log.lag(s, cursor[s]) for s in self.shards}
        stats.seconds = time.monotonic() - started
        return stats

    def _advancing(self, positions: dict[int, str], applied: dict[int, str]) -> dict[int, str]:
        """The positions that move a table forward (never back to where it already was)."""
        return {
            shard: position
            for shard, position in positions.items()
            if shard not in applied or self.log.compare(position, applied[shard]) > 0
        }

    def _commit(
        self,
        pending: _Pending,
        cursor: dict[int, str | None],
        applied_events: dict[int, str],
        applied_dead: dict[int, str],
        stats: ProcessStats,
    ) -> None:
        from shoplake.streams.events import dead_letters_to_arrow, events_to_arrow

        positions = {
            s: p
            for s, p in cursor.items()
            if p is not None and (applied_events.get(s) != p or applied_dead.get(s) != p)
        }
        if not positions:
            return
        now = dt.datetime.now(dt.UTC)
        key = self.log.sort_key
        dead = with_stream_meta(
            dead_letters_to_arrow([d[0] for d in pending.dead]),
            [d[1] for d in pending.dead],
            [key(d[2]) for d in pending.dead],
            now,
        )
        events = with_stream_meta(
            events_to_arrow(pending.events),
            [m[0] for m in pending.event_meta],
            [key(m[1]) for m in pending.event_meta],
            now,
        )
        # Dead letters first: if the process dies between the two commits, the restart
        # re-reads from the events table's (older) position and skips what dead letters hold.
        # A table's position only ever moves forward: a restart that re-reads from the older
        # position may commit short of where the other table already is.
        dead_positions = self._advancing(positions, applied_dead)
        commit(self.dead_table, Batch(dead, dead_positions), self.backend, self.name)
        applied_dead.update(dead_positions)
        event_positions = self._advancing(positions, applied_events)
        commit(self.events_table, Batch(events, event_positions), self.backend, self.name)
        applied_events.update(event_positions)
        stats.commits += 1
        for shard, position in positions.items():
            self.log.trim(shard, position)
