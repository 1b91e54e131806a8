"""Running stream workers: one in-process, or several processes each owning its shards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from shoplake.errors import ShoplakeError
from shoplake.ingest.stream_processor import ProcessStats, StreamWorker, owned_shards

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.config import Settings
    from shoplake.streams.base import EventLog


def known_products(catalog: Catalog) -> frozenset[str] | None:
    """Product codes events may name: from silver, else bronze (None: nothing to check)."""
    from pyiceberg.exceptions import NoSuchTableError

    for name, column in (("silver.products", "product_code"), ("bronze.products", "productCode")):
        try:
            table = catalog.load_table(name)
        except NoSuchTableError:
            continue
        codes = table.scan(selected_fields=(column,)).to_arrow().column(column).to_pylist()
        return frozenset(codes)
    return None


def run_worker(
    settings: Settings,
    catalog: Catalog,
    *,
    worker: int = 0,
    workers: int = 1,
    until_idle: bool = False,
    max_events: int | None = None,
) -> ProcessStats:
    """Process this worker's shards of the configured event log in this process."""
    from shoplake.streams import open_event_log

    event_log = open_event_log(settings)
    try:
        shards = owned_shards(event_log.shards, worker, workers)
        with graceful_stop() as stopping:
            return process_log(
                settings, catalog, event_log, shards,
                until_idle=until_idle, max_events=max_events, should_stop=stopping.is_set,
                name=f"worker-{worker}-of-{workers}",
            )  # fmt: skip
    finally:
        event_log.close()


def process_log(
    settings: Settings,
    catalog: Catalog,
    event_log: EventLog,
    shards: list[int],
    *,
    until_idle: bool = False,
    max_events: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    name: str = "worker-0",
) -> ProcessStats:
    """The stream processor: read ``shards`` of ``event_log`` into bronze exactly once,
    updating the online session store and live recommendations as events arrive. The local
    workers and the AWS Lambda (:mod:`shoplake.ingest.stream_lambda`) both run this."""
    from shoplake.ml.live import live_recommendations
    from shoplake.streams.online import SessionStore

    store = SessionStore(_online_url(settings), settings.stream.session_ttl_seconds)
    live = live_recommendations(settings, catalog, store)

    def on_events(events: list[Any]) -> None:
        states = store.apply(events)  # session state first: live scoring reads it
        if live is not None:
            live.apply(states)

    processor = StreamWorker(
        settings, catalog, event_log, shards,
        known_products=known_products(catalog), on_events=on_events, name=name,
    )  # fmt: skip
    stats = processor.run(until_idle=until_idle, max_events=max_events, should_stop=should_stop)
    if live is not None:
        stats.live_sessions = live.sessions_scored
        live.flush()
    return stats


@contextmanager
def graceful_stop() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM ask the worker to commit what it has read and stop (main thread only)."""
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def request_stop(_signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _online_url(settings: Settings) -> str:
    from shoplake.services import ensure_valkey

    return settings.stream.url or ensure_valkey(settings).url


def run_workers(
    settings: Settings, *, workers: int, until_idle: bool, max_events: int | None
) -> ProcessStats:
    """Start ``workers`` processes, each owning every ``workers``-th shard, and wait for all."""
    from shoplake.config import child_environment
    from shoplake.services import child_setup

    command = [sys.executable, "-m", "shoplake.cli", "stream", "process"]
    command += ["--output", "json", "--workers", "1"]
    if until_idle:
        command.append("--until-idle")
    if max_events is not None:
        command += ["--max-events", str(max_events)]

    children = [
        subprocess.Popen(
            [*command, "--worker", f"{i}/{workers}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(settings),  # what the CLI or caller set, too
            preexec_fn=child_setup,  # noqa: PLW1509 - no threads are running here
        )
        for i in range(workers)
    ]
    total = ProcessStats()
    failures = []
    for index, child in enumerate(children):
        out, err = child.communicate()
        if child.returncode != 0:
            failures.append(f"worker {index}: {err.decode().strip().splitlines()[-1:]}")
            continue
        total.merge(stats_from_json(out))
    if failures:
        raise ShoplakeError("stream workers failed: " + "; ".join(failures))
    return total


def stats_json(stats: ProcessStats) -> str:
    payload = asdict(stats)
    payload["lag"] = {str(k): v for k, v in stats.lag.items()}
    return json.dumps(payload)


def stats_from_json(text: str | bytes) -> ProcessStats:
    """Read back what :func:`stats_json` wrote (JSON object keys are strings; shards are ints)."""
    payload = json.loads(text)
    payload["lag"] = {int(k): v for k, v in payload.get("lag", {}).items()}
    return ProcessStats(**payload)
