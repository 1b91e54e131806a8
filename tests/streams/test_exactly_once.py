"""Exactly once, end to end: produce, kill -9 the processor at random moments, run to the end.

Each test builds a lakehouse over a copy of one generated source (scale 0.01), starts its own
valkey by PID under the data dir (and, for Kinesis, a moto server in this process), produces
with ``shoplake stream produce`` and processes with ``shoplake stream process`` in subprocesses.

The truth about what was produced comes from two independent places. The log itself is read
*before* processing with a plain client (the processor trims it): exact bytes, including the
simulator's byte-for-byte producer retries. Which of those payloads are good is decided by
re-running the simulator with the arguments ``produce`` uses: event ids depend only on the seed
(event times depend on "now", so payload bytes cannot be recomputed, but ids and the good/bad
split can). The validator is never asked what is valid.

The last three tests are minimal reproductions of bugs these tests found (online session state
folded in arrival order and re-applied after a crash; a sink position moved backwards).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoplake.platform import Platform
from shoplake.services import free_port
from shoplake.streams.events import Event
from shoplake.streams.online import RECENT_PRODUCTS, SessionStore
from tests.support.aws import moto_endpoint
from tests.support.streams import (
    SHARDS,
    Entry,
    Kill,
    Truth,
    bronze_events,
    cli_env,
    copy_valkey_log,
    dead_letters,
    expected_sessions,
    generate_source,
    in_delivery_order,
    kill_processor_repeatedly,
    local_valkey,
    new_lakehouse,
    read_valkey_log,
    reason_kind,
    run_cli,
    session_mismatches,
    simulated_split,
    split_log,
    stream_status,
)

pytestmark = pytest.mark.integration

BAD_RATE = "0.01"
SMALL_BATCHES = {"batch_events": "2000", "batch_seconds": "0.2"}
# The kill test commits twice as often: more kills land mid-commit, and a run killed after a
# batch or two leaves most of the log for the next one (8 kills never drain 100,000 events).
KILL_BATCHES = {"batch_events": "1000", "batch_seconds": "0.2"}
KILLS = 8
# moto serves Kinesis from this process, several times slower than valkey: fewer events and
# kills. A kill loses the batch in flight, so a run killed soon after its first commit moves the
# log on by a batch or two: with 1,000 per shard, 40,000 events outlast 6 kills (commits
# overlap reading, so a run gets further between kills than its commit count suggests).
KINESIS_EVENTS = 40_000
KINESIS_KILLS = 6


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_source(tmp_path_factory.mktemp("stream-source"))


def produce(
    shop: Platform, env: dict[str, str], events: int, seed: int, bad_rate: str = BAD_RATE
) -> float:
    """``shoplake stream produce``; the seconds it took (start-up included)."""
    started = time.perf_counter()
    done = run_cli(
        shop.settings.data_dir, env, "stream", "produce",
        "--events", str(events), "--bad-rate", bad_rate, "--seed", str(seed),
    )  # fmt: skip
    assert f"produced {events:,} events" in done.stdout + done.stderr
    return time.perf_counter() - started


def truth_of(
    shop: Platform, entries: list[Entry], events: int, seed: int, bad_rate: str = BAD_RATE
) -> Truth:
    good_ids, kinds = simulated_split(shop, events=events, seed=seed, bad_rate=float(bad_rate))
    truth = split_log(entries, good_ids, kinds)
    assert truth.entries == events  # nothing lost or doubled on the way into the log
    assert len(truth.good) < events - truth.bad.total()  # the log does hold producer retries
    return truth


def process_json(shop: Platform, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = run_cli(shop.settings.data_dir, env, "stream", "process", "--output", "json", *args)
    stats: dict[str, Any] = json.loads(done.stdout)
    return stats


def report_kills(backend: str, kills: list[Kill], final: dict[str, Any], total: int) -> None:
    print(f"\n{backend}: {len(kills)} kills (delay s → where, events committed so far):")
    for i, kill in enumerate(kills):
        print(f"  kill {i}: {kill.delay:.2f} s → {kill.where}, {kill.committed:,}/{total:,}")
    print(
        f"  {sum(k.mid_commit for k in kills)} kills landed mid-commit; the final run read "
        f"{final['read']:,} ({final['skipped_committed']:,} already committed), "
        f"{final['read'] / final['seconds']:,.0f} events/s over {final['seconds']:.1f} s"
    )


def check_exactly_once(shop: Platform, env: dict[str, str], truth: Truth) -> None:
    """bronze.events = the good events once each; dead letters = the bad payloads once each."""
    events = bronze_events(shop)
    ids = [row[0] for row in events]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events landed twice"
    missing, extra = set(truth.good) - set(ids), set(ids) - set(truth.good)
    assert not missing and not extra, f"{len(missing)} missing, {len(extra)} unexpected"
    assert set(events) == truth.rows  # and every field as produced

    dead = dead_letters(shop)
    assert Counter(payload for payload, _ in dead) == truth.bad
    assert all(reason.strip() and "\n" not in reason for _, reason in dead)
    assert Counter(reason_kind(reason) for _, reason in dead) == Counter(truth.bad_kinds)

    status = stream_status(shop.settings.data_dir, env)
    assert [shard["lag"] for shard in status["shards"]] == [0] * SHARDS
    assert status["events"] == len(truth.good)
    assert status["dead_letters"] == truth.bad.total()


# 1. Valkey -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_exactly_once_with_valkey_across_kills(source_dir: Path, tmp_path: Path) -> None:
    """100,000 events (1 % malformed), 8 kill -9s, then until idle: every event exactly once."""
    events, seed = 100_000, 5
    port = free_port()
    shop = new_lakehouse(source_dir, tmp_path / "lake", port)
    env = cli_env(port, **KILL_BATCHES)
    with local_valkey(shop.settings) as url:
        seconds = produce(shop, env, events, seed)
        truth = truth_of(shop, read_valkey_log(url), events, seed)

        kills = kill_processor_repeatedly(
            shop, env, kills=KILLS, seed=seed, total=len(truth.good),
            backend="valkey", valkey_url=url, log_path=tmp_path / "processor.log",
        )  # fmt: skip
        final = process_json(shop, env, "--until-idle")
        print(f"\nvalkey: produced {events:,} events in {seconds:.1f} s")
        report_kills("valkey", kills, final, len(truth.good))

        assert sum(k.after_commit for k in kills) >= 2 * len(kills) // 3
        assert all(k.committed < len(truth.good) for k in kills), "every kill came mid-stream"
        assert final["read"] > 0
        check_exactly_once(shop, env, truth)
        assert read_valkey_log(url) == []  # committed entries are trimmed

        # Not asserted: the online store is updated at least once (before each commit), so
        # events re-read after a kill are applied again. How much that shows:
        good = list(truth.good.values())
        in_order = in_delivery_order(good)
        expected = {
            s: e for s, e in expected_sessions(good, RECENT_PRODUCTS).items() if s in in_order
        }
        ttl = shop.settings.stream.session_ttl_seconds
        wrong = session_mismatches(url, ttl, expected)
        print(f"valkey: after the kills {len(wrong):,} of {len(expected):,} in-order sessions")
        print("  differ in the online store (events re-applied after a restart)")


# 2. Kinesis (moto) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kinesis_endpoint() -> Iterator[str]:
    """A moto server (Kinesis API) on 127.0.0.1 in this process, test credentials in the env."""
    with moto_endpoint() as endpoint:
        yield endpoint


def read_kinesis_log(endpoint: str, stream: str) -> list[Entry]:
    from shoplake.streams.kinesis import KinesisEventLog

    log = KinesisEventLog(stream, SHARDS, endpoint_url=endpoint)
    entries: list[Entry] = []
    try:
        for shard in range(log.shards):
            after = None
            while page := log.read(shard, after, 10_000):
                entries += [Entry(r.shard, r.position, r.payload) for r in page]
                after = page[-1].position
    finally:
        log.close()
    return entries


@pytest.mark.slow
def test_exactly_once_with_kinesis_across_kills(
    source_dir: Path, tmp_path: Path, kinesis_endpoint: str
) -> None:
    """The same against Kinesis (moto), with the sequence numbers as positions."""
    events, seed, stream = KINESIS_EVENTS, 6, "exactly-once"
    port = free_port()
    shop = new_lakehouse(source_dir, tmp_path / "lake", port)
    env = cli_env(
        port, backend="kinesis", kinesis_endpoint=kinesis_endpoint, kinesis_stream=stream,
        **KILL_BATCHES,
    )  # fmt: skip
    with local_valkey(shop.settings):  # the online session store
        seconds = produce(shop, env, events, seed)
        truth = truth_of(shop, read_kinesis_log(kinesis_endpoint, stream), events, seed)

        kills = kill_processor_repeatedly(
            shop, env, kills=KINESIS_KILLS, seed=seed, total=len(truth.good),
            backend="kinesis", valkey_url=None, log_path=tmp_path / "processor.log",
        )  # fmt: skip
        final = process_json(shop, env, "--until-idle")
        print(f"\nkinesis: produced {events:,} events in {seconds:.1f} s")
        report_kills("kinesis", kills, final, len(truth.good))

        assert sum(k.after_commit for k in kills) >= 2 * len(kills) // 3
        assert all(k.committed < len(truth.good) for k in kills), "every kill came mid-stream"
        assert final["read"] > 0
        check_exactly_once(shop, env, truth)


# 3. and 4. Two workers = one worker; the online session state ----------------------------------


@dataclass
class Lake:
    shop: Platform
    url: str
    stats: dict[str, Any]


@dataclass
class Twins:
    one: Lake  # processed by one worker
    two: Lake  # the same log, processed by two worker processes
    truth: Truth


@pytest.fixture(scope="module")
def twins(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twins]:
    """Two lakehouses over copies of the same source, each with its own valkey, fed one log.

    The log is produced once and copied entry by entry (same ids, same bytes) into the second
    valkey: two ``produce`` runs with one seed give the same event ids but event times anchored
    at two different "now"s, while a copied log makes every column comparable.
    """
    events, seed = 20_000, 11
    root = tmp_path_factory.mktemp("twins")
    port_one, port_two = free_port(), free_port()
    one = new_lakehouse(source_dir, root / "one", port_one)
    two = new_lakehouse(source_dir, root / "two", port_two)
    env_one, env_two = cli_env(port_one, **SMALL_BATCHES), cli_env(port_two, **SMALL_BATCHES)
    with local_valkey(one.settings) as url_one, local_valkey(two.settings) as url_two:
        produce(one, env_one, events, seed)
        entries = read_valkey_log(url_one)
        copy_valkey_log(entries, url_two)
        assert read_valkey_log(url_two) == entries
        truth = truth_of(one, entries, events, seed)

        stats_one = process_json(one, env_one, "--until-idle")
        stats_two = process_json(two, env_two, "--until-idle", "--workers", "2")
        for name, stats in (("1 worker", stats_one), ("2 workers", stats_two)):
            print(
                f"\n{name}: {stats['read']:,} events in {stats['seconds']:.2f} s "
                f"({stats['read'] / stats['seconds']:,.0f}/s), {stats['commits']} commits"
            )
        yield Twins(Lake(one, url_one, stats_one), Lake(two, url_two, stats_two), truth)


def committers(shop: Platform) -> set[str]:
    """The workers named in bronze.events' snapshot summaries."""
    table = shop.catalog.load_table("bronze.events")
    return {str(s.summary["shoplake.stream.worker"]) for s in table.snapshots() if s.summary}


@pytest.mark.slow
def test_two_workers_land_what_one_worker_lands(twins: Twins) -> None:
    one, two, truth = twins.one, twins.two, twins.truth
    for lake in (one, two):
        assert lake.stats["read"] == truth.entries
        assert lake.stats["valid"] == len(truth.good)
        assert lake.stats["invalid"] == truth.bad.total()
        assert lake.stats["lag"] == {str(s): 0 for s in range(SHARDS)}
    assert committers(two.shop) == {"worker-0-of-2", "worker-1-of-2"}
    assert committers(one.shop) == {"worker-0-of-1"}

    extra = ("_shard", "_position")
    rows_one, rows_two = bronze_events(one.shop, extra), bronze_events(two.shop, extra)
    assert len(rows_one) == len(rows_two) == len({r[0] for r in rows_two}) == len(truth.good)
    assert set(rows_two) == set(rows_one)
    assert {r[: len(r) - len(extra)] for r in rows_one} == truth.rows
    dead_one = Counter(dead_letters(one.shop, extra))
    assert Counter(dead_letters(two.shop, extra)) == dead_one
    assert Counter(payload for payload, *_ in dead_one.elements()) == truth.bad


@pytest.mark.slow
def test_session_state_matches_the_valid_events(twins: Twins) -> None:
    """Every session delivered in event-time order has exactly the state its events give.

    Sessions with late deliveries are left out here: their state depends on where batch
    boundaries fall (see test_session_state_is_independent_of_batch_boundaries).
    """
    good = list(twins.truth.good.values())
    in_order = in_delivery_order(good)
    expected = {s: e for s, e in expected_sessions(good, RECENT_PRODUCTS).items() if s in in_order}
    # The sessions checked exercise every part of the state: carts emptied by removals and
    # by purchases, carts left full, long browsing histories (bots), anonymous visitors.
    assert len(expected) > 0.9 * len({e["session_id"] for e in good})
    assert any(e["purchased"] for e in expected.values())
    assert any(e["cart"] for e in expected.values())
    assert any(len(e["recent_products"]) == RECENT_PRODUCTS for e in expected.values())
    assert any(e["customer_number"] == "" for e in expected.values())
    removed = {e["session_id"] for e in good if e["event_type"] == "remove_from_cart"} & set(
        expected
    )
    assert any(not expected[s]["cart"] for s in removed)

    for lake in (twins.one, twins.two):
        ttl = lake.shop.settings.stream.session_ttl_seconds
        assert session_mismatches(lake.url, ttl, expected) == []
        store = SessionStore(lake.url, ttl)
        assert 0 < store.client.ttl("session:" + next(iter(expected))) <= ttl
        store.client.close()


# Bugs found: minimal failing tests ------------------------------------------------------------


def _event(session: str, n: int, kind: str, code: str | None, seconds: int) -> Event:
    quantity = 1 if kind in ("add_to_cart", "remove_from_cart", "purchase") else None
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return Event(
        f"{session}-{n}", kind, moment, session, 103, code, quantity,
        Decimal("9.99") if kind == "purchase" else None, "web", None, 1,
    )  # fmt: skip


@pytest.fixture
def online_url(tmp_path: Path) -> Iterator[str]:
    settings = SimpleNamespace(data_dir=tmp_path, services=SimpleNamespace(valkey_port=free_port()))
    with local_valkey(settings) as url:
        yield url


def test_session_state_is_independent_of_batch_boundaries(online_url: str) -> None:
    """A late event (delivered after newer ones) must land where its event time puts it.

    The processor calls SessionStore.apply once per read loop, so where a late event falls
    relative to a batch boundary is chance. Views of A (t=10), B (t=20), add C (t=30), remove
    C (t=40): newest first the recent products are C, B, A and the cart is empty, whether the
    events come in one batch or — A and the add delivered late — in two.
    """
    store = SessionStore(online_url, 60)
    for session, batches in {
        "one-batch": [[(1, "page_view", "A", 10), (2, "page_view", "B", 20),
                       (3, "add_to_cart", "C", 30), (4, "remove_from_cart", "C", 40)]],
        "two-batches": [[(2, "page_view", "B", 20), (4, "remove_from_cart", "C", 40)],
                        [(1, "page_view", "A", 10), (3, "add_to_cart", "C", 30)]],
    }.items():  # fmt: skip
        for batch in batches:
            store.apply([_event(session, *spec) for spec in batch])
    one, two = store.get("one-batch"), store.get("two-batches")
    assert one is not None and two is not None
    assert (one["recent_products"], one["cart"]) == (["C", "B", "A"], {})
    assert (two["recent_products"], two["cart"]) == (["C", "B", "A"], {})  # got C, A, B; {C: 1}


def test_session_state_survives_redelivery(online_url: str) -> None:
    """After a crash the processor re-reads (and re-applies) events past its last commit."""
    store = SessionStore(online_url, 60)
    batch = [_event("s", 1, "page_view", "A", 10), _event("s", 2, "add_to_cart", "A", 20)]
    store.apply(batch)
    once = store.get("s")
    store.apply(batch)  # the same events again, as after a kill -9 before the commit
    assert once is not None and once["cart"] == {"A": 1} and once["events"] == 2
    assert store.get("s") == once  # got cart {A: 2}, events 4


class Killed(BaseException):
    """Stands for SIGKILL at a chosen point, in-process."""


def test_dead_letters_stay_once_when_a_restart_commits_short_of_the_crash(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart must never move a sink table's position backwards.

    A run dies between its two commits: bronze.dead_letters holds the whole batch and its
    positions, bronze.events neither. The next run resumes from the events position and — here
    because of ``--max-events``, equally with smaller batches or at the live tail of the log —
    commits a *shorter* batch, writing that earlier position into bronze.dead_letters too. The
    run after it then takes the dead letters between the two positions for new ones.
    """
    from shoplake.ingest import stream_processor

    events, seed, bad_rate = 4_000, 3, "0.05"
    port = free_port()
    shop = new_lakehouse(source_dir, tmp_path / "lake", port)
    env = cli_env(port)
    with local_valkey(shop.settings) as url:
        produce(shop, env, events, seed, bad_rate)
        truth = truth_of(shop, read_valkey_log(url), events, seed, bad_rate)

        real_commit = stream_processor.commit
        tables: list[str] = []

        def dies_before_the_events_commit(table: Any, *args: Any) -> None:
            tables.append(".".join(table.name()))
            if tables[-1] == "bronze.events":
                raise Killed
            real_commit(table, *args)

        monkeypatch.setattr(stream_processor, "commit", dies_before_the_events_commit)
        with pytest.raises(Killed):  # one batch of 5,000 per shard: the whole log
            shop.process(until_idle=True)
        monkeypatch.undo()
        assert tables == ["bronze.dead_letters", "bronze.events"]
        assert Counter(p for p, _ in dead_letters(shop)) == truth.bad  # committed already

        process_json(shop, env, "--max-events", "300")
        process_json(shop, env, "--until-idle")
        twice = Counter(p for p, _ in dead_letters(shop)) - truth.bad
        assert not twice, f"{twice.total()} of {truth.bad.total()} dead letters landed twice"
        check_exactly_once(shop, env, truth)
