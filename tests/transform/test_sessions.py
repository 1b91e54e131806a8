"""silver.sessions against an independent sessionization, in full and incremental runs."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shoplake.ingest.stream_sink import (
    EVENTS_TABLE,
    Batch,
    commit,
    open_sink_table,
    with_stream_meta,
)
from shoplake.platform import Platform
from shoplake.streams.events import EVENTS_SCHEMA, Event, events_to_arrow

GAP = dt.timedelta(minutes=30)
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def make_events(rng: random.Random, sessions: int, start_id: int) -> list[Event]:
    """Events of many sessions in arrival order, with idle gaps and late deliveries."""
    events: list[Event] = []
    for s in range(sessions):
        moment = T0 + dt.timedelta(seconds=rng.randint(0, 3600))
        customer = rng.choice([None, 100 + s % 7])
        for _ in range(rng.randint(1, 12)):
            moment += dt.timedelta(
                minutes=rng.choice([0.2, 1, 3, 31, 45]) if rng.random() < 0.15 else rng.random() * 5
            )
            kind = rng.choice(["page_view", "page_view", "add_to_cart", "search", "purchase"])
            events.append(
                Event(
                    event_id=f"e{start_id + len(events)}",
                    event_type=kind,
                    event_time=moment,
                    session_id=f"s{s % (sessions // 2 + 1)}",
                    customer_number=customer,
                    product_code=None if kind == "search" else f"P{rng.randint(1, 9)}",
                    quantity=1 if kind in ("add_to_cart", "purchase") else None,
                    price=Decimal("9.99") if kind == "purchase" else None,
                    device=rng.choice(["web", "mobile"]),
                    query="cars" if kind == "search" else None,
                    schema_version=1,
                )
            )
    rng.shuffle(events)  # arrival order differs from event time: late deliveries
    return events


def reference(arrived: list[Event]) -> list[tuple[Any, ...]]:
    """Sessionize in plain Python: 30-minute gaps, late = arrived after a later event."""
    by_session: dict[str, list[tuple[int, Event]]] = defaultdict(list)
    for position, event in enumerate(arrived):
        by_session[event.session_id].append((position, event))
    rows = []
    for session_id, items in by_session.items():
        late_ids = set()
        latest = None
        for _, event in sorted(items, key=lambda i: i[0]):
            if latest is not None and event.event_time < latest:
                late_ids.add(event.event_id)
            latest = event.event_time if latest is None else max(latest, event.event_time)
        ordered = sorted((e for _, e in items), key=lambda e: (e.event_time, e.event_id))
        groups: list[list[Event]] = []
        for event in ordered:
            if not groups or event.event_time - groups[-1][-1].event_time > GAP:
                groups.append([])
            groups[-1].append(event)
        for index, group in enumerate(groups, start=1):
            rows.append(
                (
                    session_id,
                    index,
                    len(group),
                    sum(e.event_type == "page_view" for e in group),
                    len({e.product_code for e in group if e.event_type == "purchase"}),
                    any(e.event_type == "purchase" for e in group),
                    sum(e.event_id in late_ids for e in group),
                    group[0].event_time,
                    group[-1].event_time,
                )
            )
    return sorted(rows)


def published(shop: Platform) -> list[tuple[Any, ...]]:
    rows = shop.catalog.load_table("silver.sessions").scan().to_arrow().to_pylist()
    return sorted(
        (
            r["session_id"],
            r["session_index"],
            r["events"],
            r["pages"],
            r["products_purchased"],
            r["converted"],
            r["late_events"],
            r["started_at"],
            r["ended_at"],
        )
        for r in rows
    )


def land(shop: Platform, events: list[Event], first_position: int) -> None:
    """Commit events to bronze.events as the stream processor would, in arrival order."""
    table = open_sink_table(shop.catalog, EVENTS_TABLE, EVENTS_SCHEMA)
    positions = [f"{first_position + i:020d}-00000000000000000000" for i in range(len(events))]
    rows = with_stream_meta(
        events_to_arrow(events), [0] * len(events), positions, dt.datetime.now(dt.UTC)
    )
    commit(table, Batch(rows, {0: positions[-1]}), "test", "test")


@pytest.fixture
def lake(tmp_path: Path) -> Platform:
    return Platform(data_dir=tmp_path / "sessions")


def test_sessions_match_a_reference_in_full_and_incremental_runs(lake: Platform) -> None:
    rng = random.Random(7)
    first = make_events(rng, 120, 0)
    land(lake, first, 0)
    report = lake.transform(["silver.sessions"])
    assert report.ok, [r.error for r in report.results]
    assert report.results[0].mode == "full"
    assert published(lake) == reference(first)
    assert any(row[1] > 1 for row in reference(first))  # the data does contain idle gaps
    assert sum(row[6] for row in reference(first)) > 0  # and late events

    # New events for existing session ids (some earlier than what landed: late) and new ones.
    second = make_events(random.Random(8), 120, len(first))
    land(lake, second, len(first))
    (result,) = lake.transform(["silver.sessions"]).results
    assert result.mode == "incremental"
    assert published(lake) == reference(first + second)
    lake.transform(["silver.sessions"], full_refresh=True)
    assert published(lake) == reference(first + second)
