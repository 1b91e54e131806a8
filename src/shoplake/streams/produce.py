"""Producing the simulated clickstream onto the event log, in bulk or at a steady rate."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from shoplake.config import Settings
    from shoplake.streams.base import EventLog

CHUNK = 2000


@dataclass
class ProduceStats:
    """What a producer sent."""

    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def produce(
    settings: Settings,
    event_log: EventLog,
    *,
    events: int | None = None,
    rate: float | None = None,
    duration: float | None = None,
    bad_rate: float = 0.0,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ProduceStats:
    """Send simulated events: ``events`` as fast as possible, or ``rate``/s for ``duration`` s.

    Event times end at "now" in bulk mode and follow the wall clock in paced mode, so the
    processor's "not in the future" rule holds for every good event.
    """
    from shoplake.errors import ConfigError
    from shoplake.generate.clickstream import (
        DEFAULT_RATE,
        load_catalog_for_clickstream,
        simulate_sessions,
    )

    if (events is None) == (rate is None or duration is None):
        raise ConfigError("give either --events N, or --rate R with --duration D")
    total = events if events is not None else int(rate * duration)  # type: ignore[operator]
    products, customers, tastes = load_catalog_for_clickstream(settings)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(seconds=total / DEFAULT_RATE) if rate is None else now
    stream = simulate_sessions(
        products, customers, tastes, events=total, start=start, rate=rate, seed=seed,
        bad_rate=bad_rate,
    )  # fmt: skip
    started = time.monotonic()
    sent = 0
    chunk = CHUNK if rate is None else max(1, int(rate / 100))
    for batch in _chunks(stream, chunk):
        event_log.produce([p for _, p in batch], [k for k, _ in batch])
        sent += len(batch)
        if progress:
            progress(len(batch))
        if rate is not None:  # pace to the wall clock
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return ProduceStats(sent, time.monotonic() - started)


def _chunks(stream: Iterator[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    while batch := list(islice(stream, size)):
        yield batch
