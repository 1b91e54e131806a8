"""The clickstream simulator: deterministic, exact counts, bad payloads that fail, real funnels."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from shoplake.config import load_settings
from shoplake.errors import ConfigError, SourceError
from shoplake.generate.clickstream import (
    BAD_KINDS,
    LATE_MS,
    load_catalog_for_clickstream,
    simulate_sessions,
)
from shoplake.generate.synthetic import build, generate
from shoplake.generate.tastes import Tastes
from shoplake.streams.events import Event, Invalid, validate

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
N = 20_000


@pytest.fixture(scope="module")
def source() -> tuple[pa.Table, list[int], Tastes]:
    tables, tastes = build(scale=0.01, seed=42)
    return tables["products"], tables["customers"]["customerNumber"].to_pylist(), tastes


@pytest.fixture(scope="module")
def stream(source: tuple[pa.Table, list[int], Tastes]) -> list[tuple[str, bytes]]:
    products, customers, tastes = source
    return list(
        simulate_sessions(products, customers, tastes, events=N, start=START, rate=None, seed=42)
    )


@pytest.fixture(scope="module")
def parsed(
    source: tuple[pa.Table, list[int], Tastes], stream: list[tuple[str, bytes]]
) -> list[Event]:
    known = frozenset(source[0]["productCode"].to_pylist())
    results = [validate(p, known_products=known, now=START) for _, p in stream]
    assert [r for r in results if isinstance(r, Invalid)] == []
    return [r for r in results if isinstance(r, Event)]


def sessions_of(events: list[Event]) -> dict[str, list[Event]]:
    """Distinct events per session id, in event-time order."""
    by_session: dict[str, dict[str, Event]] = defaultdict(dict)
    for event in events:
        by_session[event.session_id][event.event_id] = event
    return {
        sid: sorted(evs.values(), key=lambda e: e.event_time) for sid, evs in by_session.items()
    }


def test_same_seed_same_payloads(source: tuple[pa.Table, list[int], Tastes]) -> None:
    products, customers, tastes = source

    def run(seed: int, **kw: Any) -> list[tuple[str, bytes]]:
        return list(
            simulate_sessions(
                kw.pop("products", products), customers, tastes, events=3_000, start=START,
                rate=None, seed=seed, bad_rate=0.05, **kw,
            )
        )  # fmt: skip

    first = run(7)
    assert run(7) == first
    assert run(7, products=products.to_pylist()) == first  # a list of dicts works the same
    assert run(8) != first


def test_counts_exactly_the_events_asked_for(source: tuple[pa.Table, list[int], Tastes]) -> None:
    products, customers, tastes = source
    for n in (0, 1, 777):
        sim = simulate_sessions(
            products, customers, tastes, events=n, start=START, rate=None, seed=3, bad_rate=0.2
        )
        assert len(list(sim)) == n
        assert sim.stats.emitted == n


def test_every_payload_is_valid_and_follows_the_schema(
    stream: list[tuple[str, bytes]], parsed: list[Event]
) -> None:
    assert len(parsed) == N
    assert all(sid == e.session_id for (sid, _), e in zip(stream, parsed, strict=True))
    assert all(set(json.loads(p)) == set(Event.__slots__) for _, p in stream[:100])
    types = Counter(e.event_type for e in parsed)
    assert set(types) == {"page_view", "add_to_cart", "remove_from_cart", "purchase", "search"}
    assert min(e.event_time for e in parsed) == START


def test_bad_payloads_fail_and_good_ones_are_unchanged(
    source: tuple[pa.Table, list[int], Tastes], stream: list[tuple[str, bytes]]
) -> None:
    products, customers, tastes = source
    sim = simulate_sessions(
        products, customers, tastes, events=N, start=START, rate=None, seed=42, bad_rate=0.05
    )
    mixed = [p for _, p in sim]
    # Bad payloads are inserted; the good ones are those of the clean run, in the same order.
    good, bad, i = [], [], 0
    for payload in mixed:
        if i < len(stream) and payload == stream[i][1]:
            good.append(payload)
            i += 1
        else:
            bad.append(payload)
    assert len(mixed) == N
    assert len(bad) == sum(sim.stats.bad.values())
    assert abs(len(bad) / N - 0.05) < 0.008
    assert all(n > 0.15 * len(bad) for n in sim.stats.bad.values())
    assert set(sim.stats.bad) == set(BAD_KINDS)

    known = frozenset(products["productCode"].to_pylist())
    later = START + timedelta(days=7)
    reasons: Counter[str] = Counter()
    for payload in bad:
        result = validate(payload, known_products=known, now=later)
        assert isinstance(result, Invalid), payload
        reasons[result.reason.split(":")[0].split(" ")[0]] += 1
    assert reasons["bad"] == sim.stats.bad["bad_json"]
    assert reasons["missing"] == sim.stats.bad["missing_field"]
    for payload in good:
        assert isinstance(validate(payload, known_products=known, now=START), Event)


def test_retries_resend_the_same_bytes(stream: list[tuple[str, bytes]]) -> None:
    counts = Counter(p for _, p in stream)
    resent = [p for p, n in counts.items() if n > 1]
    assert 0.002 * N < len(resent) < 0.01 * N
    assert max(counts.values()) == 2
    ids = Counter(json.loads(p)["event_id"] for _, p in stream)
    assert sum(n - 1 for n in ids.values()) == len(resent)  # only retries share an event_id


def test_some_events_arrive_late(parsed: list[Event]) -> None:
    late = [
        (before.event_time - event.event_time)
        for before, event in pairwise(parsed)
        if event.event_time < before.event_time
    ]
    assert 0.002 * N < len(late) < 0.03 * N
    assert max(late) <= timedelta(milliseconds=LATE_MS[1] + 3_000)


def test_funnel_order_within_sessions(parsed: list[Event]) -> None:
    checked = 0
    for events in sessions_of(parsed).values():
        cart: Counter[str] = Counter()
        for event in events:
            code = event.product_code
            if event.event_type == "add_to_cart":
                assert code is not None and event.quantity is not None
                cart[code] += event.quantity
            elif event.event_type == "remove_from_cart":
                assert code is not None and cart[code] == event.quantity
                del cart[code]
            elif event.event_type == "purchase":
                assert code is not None and cart[code] == event.quantity, "bought before added"
                assert event.price is not None and event.price > 0
                del cart[code]
                checked += 1
    assert checked > 50


def test_visitors_devices_gaps(parsed: list[Event]) -> None:
    sessions = sessions_of(parsed)
    bots = {s: evs for s, evs in sessions.items() if evs[0].device == "bot"}
    humans = {s: evs for s, evs in sessions.items() if s not in bots}
    assert 0.003 < len(bots) / len(sessions) < 0.02
    assert all(e.device == "bot" and e.event_type == "page_view" for v in bots.values() for e in v)
    assert all(e.customer_number is None for v in bots.values() for e in v)
    assert {e.device for v in humans.values() for e in v} == {"web", "mobile", "app"}
    anonymous = sum(evs[0].customer_number is None for evs in humans.values())
    assert 0.2 < anonymous / len(humans) < 0.3
    # Bots that finished a minute before the stream was cut off have all their (late) events.
    end = max(e.event_time for e in parsed) - timedelta(minutes=1)
    finished = [v for v in bots.values() if v[-1].event_time < end]
    assert len(finished) > 0.5 * len(bots)
    bot_gaps = [b.event_time - a.event_time for v in finished for a, b in pairwise(v)]
    assert max(bot_gaps) <= timedelta(seconds=1.5)
    gaps = [b.event_time - a.event_time for v in humans.values() for a, b in pairwise(v)]
    assert np.median([g.total_seconds() for g in gaps]) > 5
    assert max(gaps) < timedelta(minutes=106)  # 90 min idle + one 15-min gap at most


def test_some_sessions_idle_for_more_than_30_minutes(
    source: tuple[pa.Table, list[int], Tastes],
) -> None:
    products, customers, tastes = source
    # 8,000 events at 1 event/s span two hours of event time: idle gaps show up.
    payloads = simulate_sessions(
        products, customers, tastes, events=8_000, start=START, rate=1.0, seed=42
    )
    results = [validate(p, known_products=None, now=START) for _, p in payloads]
    sessions = sessions_of([r for r in results if isinstance(r, Event)])
    idle = [
        b.event_time - a.event_time
        for v in sessions.values()
        for a, b in pairwise(v)
        if b.event_time - a.event_time > timedelta(minutes=30)
    ]
    assert 0.005 * len(sessions) < len(idle) < 0.05 * len(sessions)
    assert min(idle) > timedelta(minutes=31)


def test_searches_use_catalogue_words(
    source: tuple[pa.Table, list[int], Tastes], parsed: list[Event]
) -> None:
    products = source[0]
    vocabulary = " | ".join(
        n.lower() for n in products["productName"].to_pylist() + products["productLine"].to_pylist()
    )
    queries = [e.query for e in parsed if e.event_type == "search"]
    assert len(queries) > 0.05 * N
    assert all(q and q in vocabulary for q in queries)


def test_customers_view_their_favourite_lines(
    source: tuple[pa.Table, list[int], Tastes], parsed: list[Event]
) -> None:
    products, _, tastes = source
    line_of = dict(
        zip(products["productCode"].to_pylist(), products["productLine"].to_pylist(), strict=True)
    )
    top = {
        int(c): tastes.lines[int(np.argmax(w))]
        for c, w in zip(tastes.customer_number, tastes.line_weights, strict=True)
    }
    views = [e for e in parsed if e.event_type == "page_view" and e.product_code is not None]
    known = [(line_of[e.product_code], top[e.customer_number]) for e in views
             if e.customer_number is not None]  # fmt: skip
    anonymous = Counter(line_of[e.product_code] for e in views if e.customer_number is None
                        and e.device != "bot")  # fmt: skip
    total = sum(anonymous.values())
    hit = np.mean([line == favourite for line, favourite in known])
    # The share anonymous visitors give to the same lines, weighted like the customers' views.
    baseline = np.mean([anonymous[favourite] / total for _, favourite in known])
    assert hit > 0.6
    assert hit > 1.5 * baseline


def test_rate_sets_the_pace_of_event_time(source: tuple[pa.Table, list[int], Tastes]) -> None:
    products, customers, tastes = source
    for rate in (5.0, 40.0):
        # Once the sessions started earlier are under way (minutes), events come at ``rate``.
        sim = simulate_sessions(
            products, customers, tastes, events=int(1_000 * rate), start=START, rate=rate, seed=1
        )
        times = [datetime.fromisoformat(json.loads(p)["event_time"]) for _, p in sim]
        window = sum(START + timedelta(minutes=5) <= t < START + timedelta(minutes=15)
                     for t in times)  # fmt: skip
        assert 0.75 * 600 * rate < window < 1.25 * 600 * rate


def test_without_tastes_or_customers(source: tuple[pa.Table, list[int], Tastes]) -> None:
    products, customers, _ = source
    known = frozenset(products["productCode"].to_pylist())
    for who in (customers, []):
        payloads = simulate_sessions(
            products, who, None, events=2_000, start=START, rate=None, seed=5
        )
        results = [validate(p, known_products=known, now=START) for _, p in payloads]
        assert all(isinstance(r, Event) for r in results)
        identified = sum(r.customer_number is not None for r in results if isinstance(r, Event))
        assert (identified > 0) == bool(who)


def test_arguments_are_checked(source: tuple[pa.Table, list[int], Tastes]) -> None:
    products, customers, tastes = source
    common: dict[str, Any] = {"events": 1, "start": START, "rate": None, "seed": 1}
    with pytest.raises(ConfigError, match="bad_rate must be between 0 and 1"):
        simulate_sessions(products, customers, tastes, **common, bad_rate=1.5)
    with pytest.raises(ConfigError, match="rate must be positive"):
        simulate_sessions(products, customers, tastes, **{**common, "rate": 0})
    with pytest.raises(ConfigError, match="start must be timezone-aware"):
        simulate_sessions(products, customers, tastes, **{**common, "start": datetime(2026, 1, 1)})
    with pytest.raises(SourceError, match="at least one product"):
        simulate_sessions([], customers, tastes, **common)


def test_load_catalog_from_the_source(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    with pytest.raises(SourceError, match="does not exist"):
        load_catalog_for_clickstream(settings)
    generate(settings.source_url, scale=0.01, seed=42, tastes_path=settings.tastes_path)
    products, customers, tastes = load_catalog_for_clickstream(settings)
    tables, expected_tastes = build(scale=0.01, seed=42)
    assert [p["productCode"] for p in products] == tables["products"]["productCode"].to_pylist()
    assert customers == tables["customers"]["customerNumber"].to_pylist()
    assert tastes is not None
    assert np.array_equal(tastes.line_weights, expected_tastes.line_weights)
    first = list(simulate_sessions(products, customers, tastes, events=500, start=START,
                                   rate=None, seed=9))  # fmt: skip
    again = list(simulate_sessions(tables["products"], customers, expected_tastes, events=500,
                                   start=START, rate=None, seed=9))  # fmt: skip
    assert first == again
    settings.tastes_path.unlink()
    assert load_catalog_for_clickstream(settings)[2] is None
