"""Measure shoplake's stream pipeline: sustained throughput, end-to-end latency, commit interval.

Everything runs in a work dir under the data dir with its own valkey (a free port, started and
stopped by PID): a generated source for the simulator's catalogue and, for every run, a fresh
lakehouse holding only ``bronze.products`` (the processor's product check). The valkey is
flushed before each run, so every run starts with an empty log and no session state.

- **Throughput**: ``Platform.produce(events=N, bad_rate=0.01)`` (timed: produce events/s), then
  ``Platform.process(until_idle=True)`` with 1 worker (in this process) and with 2 (worker
  processes): every event read, validated, de-duplicated, committed to ``bronze.events`` /
  ``bronze.dead_letters`` and applied to the session store.
- **Latency**: ``shoplake stream process`` in a subprocess (killed by PID at the end), and in this
  process a producer sending 1,000 events/s through ``EventLog.produce`` that polls the session
  store for every 10th valid event until the session's event count shows it applied.
- **Commit interval**: both of the above for each ``stream.batch_seconds`` value, with
  ``batch_events`` scaled in proportion, plus the commits and files each makes per minute and how
  long after its production an event is visible in ``bronze.events``.
"""

from __future__ import annotations

import bisect
import contextlib
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from shoplake.bench.ingest import _clean, _platform, _progress, _timed_ingest_all
from shoplake.bench.transform import Profile, _load_average, local_path, snapshot_rows
from shoplake.errors import ShoplakeError
from shoplake.ingest.stream_processor import ProcessStats
from shoplake.services import free_port, stop_child

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pyiceberg.table import Table

    from shoplake.config import Settings
    from shoplake.platform import Platform
    from shoplake.streams.base import EventLog
    from shoplake.streams.produce import ProduceStats

TARGET_EVENTS_PER_S = 20_000
TARGET_P99_MS = 50.0
EVENTS = 200_000
SCALE = 0.01
SOURCE_SEED = 42
BAD_RATE = 0.01
RATE = 1_000.0
LATENCY_SECONDS = 15.0
SAMPLE_EVERY = 10
BATCH_SECONDS: tuple[float, ...] = (0.2, 1.0, 5.0)
DEFAULT_BATCH_SECONDS = 1.0
#: ``batch_events`` per second of ``batch_seconds``: the defaults' ratio (5,000 events, 1 s).
EVENTS_PER_BATCH_SECOND = 5_000
WORKERS: tuple[int, ...] = (1, 2)
RUNS = 3
LATENCY_RUNS = 3
POLL_SECONDS = 0.001
#: The first profile row of the processor's commit thread.
THREAD = "commit thread: "
#: A send/poll loop round longer than this is a gap: samples were not checked meanwhile.
GAP_SECONDS = 0.01
WARM_UP_TIMEOUT = 120.0
#: The session store's hash of one session and the field counting its applied events.
SESSION_KEY, COUNT_FIELD = "session:{}", "events"
#: The snapshot summary key holding the shard positions a commit brought bronze.events up to.
POSITIONS_SUMMARY = "shoplake.stream.positions"

#: The functions whose cumulative time the profiled run reports, as ``transform.attribute``
#: takes them: (label, file path ending, function). Unindented rows do not overlap; an indented
#: row is part of one above it; rows from ``THREAD`` on run in the processor's commit thread,
#: alongside the others.
PROFILE_PARTS = (
    ("event log reads (`ValkeyEventLog.read`)", "streams/valkey.py", "read"),
    ("validation (`validate`)", "streams/events.py", "validate"),
    ("session state updates (`SessionStore.apply`)", "streams/online.py", "apply"),
    ("start-up: sink tables (`open_sink_table`)", "ingest/stream_sink.py", "open_sink_table"),
    ("start-up: dedupe ids (`recent_event_ids`)", "ingest/stream_sink.py", "recent_event_ids"),
    ("start-up: product codes (`known_products`)", "ingest/stream_workers.py", "known_products"),
    ("  state merged in Python (`merge_session`)", "streams/online.py", "merge_session"),
    ("  JSON parsing (`parse`)", "streams/events.py", "parse"),
    ("  valkey-py parsing replies (`_read_response`)", "_parsers/resp2.py", "_read_response"),
    ("  valkey-py encoding commands (`pack`)", "valkey/connection.py", "pack"),
    ("commit thread: micro-batch commits (`_commit`)", "ingest/stream_processor.py", "_commit"),
    ("  events to Arrow (`events_to_arrow`)", "streams/events.py", "events_to_arrow"),
    ("  Iceberg commits, both tables (`stream_sink.commit`)", "ingest/stream_sink.py", "commit"),
    ("  log trims (`ValkeyEventLog.trim`)", "streams/valkey.py", "trim"),
)


# Results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitConfig:
    """The processor's micro-batch bounds: commit after this many events or this long."""

    batch_seconds: float
    batch_events: int

    @classmethod
    def scaled(cls, batch_seconds: float) -> CommitConfig:
        return cls(batch_seconds, max(100, round(EVENTS_PER_BATCH_SECOND * batch_seconds)))

    @property
    def label(self) -> str:
        return f"{self.batch_seconds:g} s / {self.batch_events:,}"


@dataclass
class ThroughputRun:
    """One ``produce`` of N events, then one ``process(until_idle=True)`` on a fresh lakehouse."""

    config: CommitConfig
    workers: int
    produced: ProduceStats
    stats: ProcessStats
    wall: float
    events_rows: int
    dead_rows: int
    snapshots: int
    cpu: float  # CPU seconds of the worker(s): this process's, or its reaped children's
    valkey_cpu: float | None  # CPU seconds of the valkey server meanwhile (None: unknown)
    error: str | None = None  # why ``process`` failed (its stats are then empty)

    @property
    def rate(self) -> float:
        """Events read per second of the workers' own loop (start-up of processes excluded)."""
        return self.stats.read / self.stats.seconds if self.stats.seconds else 0.0

    @property
    def wall_rate(self) -> float:
        """Events read per second of the whole ``process`` call (worker processes' start-up in)."""
        return self.stats.read / self.wall if self.wall else 0.0

    @property
    def adds_up(self) -> bool:
        """Committed events + dead letters + duplicates dropped == events produced."""
        if self.error:
            return False
        accounted = self.events_rows + self.dead_rows + self.stats.duplicates
        return accounted == self.produced.events == self.stats.read


@dataclass
class Sample:
    """One sampled valid event: its session, the count that shows it applied, when it was sent."""

    event_id: str
    session: str
    count: int
    sent: float  # time.time() just before the produce call
    visible: float | None = None  # when the session store first showed it

    @property
    def latency_ms(self) -> float | None:
        return None if self.visible is None else (self.visible - self.sent) * 1000


@dataclass
class CommitSpan:
    """One ``bronze.events`` commit: when the processor began it and its snapshot's timestamp."""

    started: float
    committed: float
    rows: int
    data_files: int


@dataclass
class LatencyRun:
    """A paced run against a processor subprocess: latencies, freshness and commit counts."""

    config: CommitConfig
    rate: float
    seconds: float  # the paced window
    produced: int = 0  # in the window, warm-up excluded
    warm_up: int = 0  # events sent before the window, until the processor showed one
    warm_up_seconds: float = 0.0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    samples: list[Sample] = field(default_factory=list)
    lake_ms: list[float] = field(default_factory=list)
    lake_missing: int = 0
    commits: list[CommitSpan] = field(default_factory=list)
    table_commits: int = 0  # metadata.json files written in the window, both sink tables
    data_files: int = 0
    other_files: int = 0  # manifests and manifest lists
    events_rows: int = 0
    dead_rows: int = 0
    drained: int = 0  # events the in-process drain after the kill still read
    cores: dict[str, float | None] = field(default_factory=dict)  # CPU s / window s, by process
    lake_timeout: bool = False
    parts: list[LatencyRun] = field(default_factory=list)  # the runs pooled into this one
    gaps: list[tuple[float, float]] = field(default_factory=list)  # producer loop held up

    @classmethod
    def pooled(cls, runs: list[LatencyRun]) -> LatencyRun:
        """Runs of one batch bound as one: their windows, samples, commits and counts together."""
        if len(runs) == 1:
            return runs[0]
        first = runs[0]
        total = cls(first.config, first.rate, sum(r.seconds for r in runs), parts=list(runs))
        for name in _SUMMED:
            setattr(total, name, sum(getattr(r, name) for r in runs))
        for run in runs:
            total.samples += run.samples
            total.lake_ms += run.lake_ms
            total.commits += run.commits
            total.gaps += run.gaps
        total.warm_up_seconds = max(r.warm_up_seconds for r in runs)
        total.lake_timeout = any(r.lake_timeout for r in runs)
        for name in first.cores:
            shares = [r.cores.get(name) for r in runs]
            known = [share for share in shares if share is not None]
            total.cores[name] = sum(known) / len(known) if len(known) == len(shares) else None
        return total

    @property
    def session_ms(self) -> list[float]:
        return [s.latency_ms for s in self.samples if s.latency_ms is not None]

    @property
    def unseen(self) -> int:
        return sum(1 for s in self.samples if s.visible is None)

    def per_minute(self, count: int) -> float:
        return count * 60 / self.seconds if self.seconds else 0.0

    @property
    def commit_ms(self) -> list[float]:
        """How long each commit in the window took, from its start to its snapshot."""
        return [(c.committed - c.started) * 1000 for c in self.commits]

    def slow(self, threshold_ms: float) -> tuple[int, int, int]:
        """Samples slower than ``threshold_ms``; how many waited across a commit of the
        processor, and how many across a gap in the producer's own loop."""
        slow = [s for s in self.samples if (s.latency_ms or 0.0) > threshold_ms]

        def across(spans: list[tuple[float, float]]) -> int:
            return sum(
                1 for s in slow if any(a <= (s.visible or 0.0) and b >= s.sent for a, b in spans)
            )

        commits = [(c.started, c.committed) for c in self.commits]
        return len(slow), across(commits), across(self.gaps)

    @property
    def adds_up(self) -> bool:
        """Committed events + dead letters + duplicates == everything sent, warm-up included."""
        if self.parts:
            return all(part.adds_up for part in self.parts)
        return (
            self.events_rows + self.dead_rows + self.duplicates == self.produced + self.warm_up
            and self.events_rows == self.valid
            and self.dead_rows == self.invalid
        )


@dataclass
class StreamBenchResults:
    """Everything the report shows."""

    events: int
    seed: int
    rate: float
    latency_seconds: float
    started: dt.datetime
    configs: list[CommitConfig] = field(default_factory=list)
    source_counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    catalogue_seconds: float = 0.0  # bronze.products into one fresh lakehouse
    valkey_version: str = ""
    shards: int = 0
    throughput: list[ThroughputRun] = field(default_factory=list)
    profile: Profile | None = None
    profile_run: ThroughputRun | None = None
    latency: list[LatencyRun] = field(default_factory=list)
    finished: dt.datetime | None = None
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute, at start and at end

    @property
    def default_config(self) -> CommitConfig:
        return min(self.configs, key=lambda c: abs(c.batch_seconds - DEFAULT_BATCH_SECONDS))

    def runs_of(self, config: CommitConfig, workers: int) -> list[ThroughputRun]:
        """The throughput runs of one batch bound and worker count, slowest first."""
        found = [r for r in self.throughput if r.config == config and r.workers == workers]
        return sorted(found, key=lambda r: r.rate)

    def throughput_of(self, config: CommitConfig, workers: int) -> ThroughputRun | None:
        """The median run (the slower middle one of an even number)."""
        runs = self.runs_of(config, workers)
        return runs[(len(runs) - 1) // 2] if runs else None

    def latency_of(self, config: CommitConfig) -> LatencyRun | None:
        """The latency runs of one batch bound, pooled."""
        runs = [r for r in self.latency if r.config == config]
        return LatencyRun.pooled(runs) if runs else None


#: LatencyRun counts that pooled runs add up.
_SUMMED = (
    "produced", "warm_up", "valid", "invalid", "duplicates", "lake_missing", "table_commits",
    "data_files", "other_files", "events_rows", "dead_rows", "drained",
)  # fmt: skip


# Entry point -----------------------------------------------------------------------------------


@dataclass
class StreamBench:
    """One benchmark run's settings (its valkey's URL in them), directories and results."""

    settings: Settings
    work: Path
    results: StreamBenchResults
    valkey_pid: int | None = None
    catalogue: Any = None  # the simulator's (products, customers, tastes)

    @property
    def url(self) -> str:
        return str(self.settings.stream.url)

    @property
    def source(self) -> Platform:
        return _platform(self.settings, self.work / "source")

    def lake(self, config: CommitConfig) -> Platform:
        """A fresh lakehouse with ``bronze.products`` and the processor's batch bounds."""
        stream = self.settings.stream.model_copy(
            update={"batch_seconds": config.batch_seconds, "batch_events": config.batch_events}
        )
        settings = self.settings.model_copy(update={"stream": stream})
        lake = _platform(settings, _clean(self.work / "lake"), self.source.settings.source_url)
        self.results.catalogue_seconds, _ = _timed_ingest_all(lake, ["products"])
        return lake


def run_stream_benchmark(
    settings: Settings,
    *,
    events: int = EVENTS,
    report: Path,
    work_dir: Path | None = None,
    seed: int = 1,
    rate: float = RATE,
    latency_seconds: float = LATENCY_SECONDS,
    batch_seconds: tuple[float, ...] = BATCH_SECONDS,
    workers: tuple[int, ...] = WORKERS,
    runs: int = RUNS,
    latency_runs: int = LATENCY_RUNS,
) -> Path:
    """Run every phase, write the Markdown report to ``report`` and return its path.

    Works in ``work_dir`` (default ``<data_dir>/bench-stream``), removed first, with a valkey of
    its own on a free port under it, stopped by PID at the end whatever happens. ``seed`` seeds
    the simulated clickstream (the source is generated with seed 42). Each throughput
    measurement runs ``runs`` times and each latency one ``latency_runs`` times, the rounds
    interleaved so that noise spreads over all.
    """
    from shoplake.bench.stream_report import render_report
    from shoplake.services import start_valkey, stop_valkey

    work = (work_dir or settings.data_dir / "bench-stream").absolute()
    server = _server_settings(settings, work)
    stop_valkey(server)  # a previous run's, if it was killed before its own clean-up
    _clean(work)
    results = StreamBenchResults(events, seed, rate, latency_seconds, dt.datetime.now(dt.UTC))
    results.configs = [CommitConfig.scaled(s) for s in batch_seconds]
    load_before = _load_average()
    _progress(f"stream benchmark: {events:,} events, work dir {work}")
    try:
        info = start_valkey(server)
        _progress(f"valkey: pid {info.pid}, port {info.port}")
        stream = settings.stream.model_copy(update={"backend": "valkey", "url": info.url})
        ours = settings.model_copy(update={"stream": stream, "services": server.services})
        bench = StreamBench(ours, work, results, valkey_pid=info.pid)
        _setup_phase(bench)
        for _round in range(runs):
            for config in results.configs:
                for count in workers:
                    results.throughput.append(_throughput_run(bench, config, count))
        _profile_phase(bench)
        for _round in range(latency_runs):
            for config in results.configs:
                results.latency.append(_latency_run(bench, config))
    finally:
        stop_valkey(server)
    results.finished, results.load_average = dt.datetime.now(dt.UTC), (load_before, _load_average())
    path = report.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, settings, path))
    return path


# Phases ----------------------------------------------------------------------------------------


def _setup_phase(bench: StreamBench) -> None:
    from shoplake.generate.clickstream import load_catalog_for_clickstream
    from shoplake.streams.online import redis_client

    results = bench.results
    source = _platform(bench.settings, _clean(bench.work / "source"))
    _progress(f"generate: scale {SCALE:g}")
    started = time.perf_counter()
    results.source_counts = dict(source.generate(scale=SCALE, seed=SOURCE_SEED).counts)
    results.generate_seconds = time.perf_counter() - started
    bench.catalogue = load_catalog_for_clickstream(source.settings)
    results.shards = bench.settings.stream.shards
    client = redis_client(bench.url)
    try:
        server = client.info("server")
    finally:
        client.close()
    results.valkey_version = str(server.get("valkey_version") or server.get("redis_version"))


def _throughput_run(
    bench: StreamBench, config: CommitConfig, workers: int, profiler: cProfile.Profile | None = None
) -> ThroughputRun:
    from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE

    _flush(bench.url)
    lake = bench.lake(config)
    produced = bench.source.produce(
        events=bench.results.events, bad_rate=BAD_RATE, seed=bench.results.seed
    )
    error = None
    with _children_settings(lake.settings), profiler or contextlib.nullcontext():
        before = _cpu_now(bench.valkey_pid)
        started = time.perf_counter()
        try:
            stats = lake.process(workers=workers, until_idle=True)
        except ShoplakeError as exc:  # a worker process failed: report it, go on
            stats, error = ProcessStats(), str(exc)
        wall = time.perf_counter() - started
        cpu, valkey_cpu = _cpu_since(before, bench.valkey_pid)
    events_table = lake.catalog.load_table(EVENTS_TABLE)
    run = ThroughputRun(
        config, workers, produced, stats, wall,
        events_rows=snapshot_rows(events_table),
        dead_rows=snapshot_rows(lake.catalog.load_table(DEAD_LETTERS_TABLE)),
        snapshots=len(events_table.snapshots()),
        cpu=cpu,
        valkey_cpu=valkey_cpu,
        error=error,
    )  # fmt: skip
    _progress(
        f"throughput, batch {config.label}, workers {workers}: produced {produced.events:,} in "
        f"{produced.seconds:.2f} s; processed {stats.read:,} in {stats.seconds:.2f} s "
        f"({run.rate:,.0f}/s; {run.wall_rate:,.0f}/s wall), {stats.commits} commits"
        + (f" — FAILED: {error}" if error else "" if run.adds_up else " — COUNTS DO NOT ADD UP")
    )
    return run


def _profile_phase(bench: StreamBench) -> None:
    """One more 1-worker run at the default batch bounds, in this process under cProfile
    (every thread it starts too: the processor commits in a thread of its own)."""
    from shoplake.bench import transform

    results = bench.results
    profiler = cProfile.Profile()
    threads: list[cProfile.Profile] = []
    with _profiled_threads(threads):
        run = _throughput_run(bench, results.default_config, 1, profiler)
    merged = _Merged(profiler, *threads)
    # transform.attribute reads the parts from its module; lend it this benchmark's.
    with mock.patch.object(transform, "PROFILE_PARTS", PROFILE_PARTS):
        parts = transform.attribute(cast("cProfile.Profile", merged))
    results.profile = Profile(run.wall, parts)
    results.profile_run = run
    _progress(f"profiled 1-worker run: {run.wall:.2f} s under cProfile")


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    """No garbage collection in this process meanwhile: a full collection of the benchmark's
    heap stops the measuring loop for tens of milliseconds, which samples would count."""
    gc.collect()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


@contextlib.contextmanager
def _profiled_threads(profilers: list[cProfile.Profile]) -> Iterator[None]:
    """Threads started meanwhile each run under a profiler of their own, added to the list."""
    run = threading.Thread.run

    def profiled(thread: threading.Thread) -> None:
        profiler = cProfile.Profile()
        profilers.append(profiler)
        with profiler:
            run(thread)

    with mock.patch.object(threading.Thread, "run", profiled):
        yield


class _Merged:
    """Several profiles as one, in the form ``pstats.Stats`` reads (``create_stats``, ``stats``)."""

    def __init__(self, *profilers: cProfile.Profile) -> None:
        self.stats = pstats.Stats(*profilers).stats  # type: ignore[attr-defined]

    def create_stats(self) -> None:
        """Nothing to collect: ``stats`` is complete."""


def _latency_run(bench: StreamBench, config: CommitConfig) -> LatencyRun:
    from shoplake.ingest.stream_workers import known_products
    from shoplake.streams import open_event_log
    from shoplake.streams.online import redis_client

    _flush(bench.url)
    lake = bench.lake(config)
    results = bench.results
    run = LatencyRun(config, results.rate, results.latency_seconds)
    codes = known_products(lake.catalog)
    event_log = open_event_log(lake.settings)
    client = redis_client(bench.url)
    log_path = bench.work / f"processor-{config.batch_seconds:g}s.log"
    processor = _start_processor(lake, log_path)
    try:
        producer = PacedProducer(event_log, client, codes, run)
        stream = producer.simulated(bench.catalogue, seed=results.seed)
        producer.warm_up(stream, alive=lambda: processor.poll() is None, log_path=log_path)
        pids = {"processor": processor.pid, "valkey": bench.valkey_pid, "producer": os.getpid()}
        before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
        with _collector_off():
            window = producer.paced(stream)
            producer.settle(timeout=config.batch_seconds + 10)
        for name, pid in pids.items():
            used, was = process_cpu_seconds(pid), before[name]
            run.cores[name] = None if used is None or was is None else (used - was) / run.seconds
        run.lake_timeout = not _wait_committed(lake, event_log, config.batch_seconds * 3 + 30)
    finally:
        stop_child(processor)
        event_log.close()
        client.close()
    run.drained = lake.process(until_idle=True).read  # what the killed processor left, if any
    _lake_facts(lake, run, window, event_log.sort_key)
    session = run.session_ms
    p99 = percentile(session, 99)
    _progress(
        f"latency, batch {config.label}: {len(session):,} samples, session p99 "
        f"{p99:.1f} ms, max {max(session, default=0):.1f} ms; commits: {len(run.commits)}"
        + ("" if run.adds_up else " — COUNTS DO NOT ADD UP")
    )
    return run


# The paced producer ----------------------------------------------------------------------------


class PacedProducer:
    """Sends simulated events at a steady rate and times when sampled ones reach session state.

    Every payload is validated here too (with the processor's catalogue) so the producer knows
    which events the processor will apply: each valid event not sent before adds one to its
    session's count, and a sampled event is visible once ``HGET session:<id> events`` reaches the
    count it brought. One loop sends what is due, then polls the pending samples in one pipeline
    every ``POLL_SECONDS``: the resolution of the figures.
    """

    def __init__(
        self, event_log: EventLog, client: Any, known: frozenset[str] | None, run: LatencyRun
    ) -> None:
        self.log = event_log
        self.client = client
        self.known = known
        self.run = run
        self.seen: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.pending: deque[Sample] = deque()
        self.last_session = ""  # of the last valid event sent

    def simulated(
        self, catalogue: tuple[list[dict[str, Any]], list[int], Any], seed: int
    ) -> Iterator[tuple[str, bytes]]:
        from shoplake.generate.clickstream import simulate_sessions

        products, customers, tastes = catalogue
        return simulate_sessions(
            products, customers, tastes, events=None, start=dt.datetime.now(dt.UTC),
            rate=self.run.rate, seed=seed, bad_rate=BAD_RATE,
        )  # fmt: skip

    def send(self, batch: list[tuple[str, bytes]], *, sample: bool = True) -> None:
        from shoplake.streams.events import Invalid, validate

        sent = time.time()
        self.log.produce([p for _, p in batch], [k for k, _ in batch])
        now = dt.datetime.now(dt.UTC)
        for session, payload in batch:
            event = validate(payload, known_products=self.known, now=now)
            if isinstance(event, Invalid):
                self.run.invalid += 1
            elif event.event_id in self.seen:
                self.run.duplicates += 1
            else:
                self.seen.add(event.event_id)
                self.counts[session] += 1
                self.last_session = session
                self.run.valid += 1
                if sample and self.run.valid % SAMPLE_EVERY == 0:
                    self.pending.append(Sample(event.event_id, session, self.counts[session], sent))

    def poll(self) -> None:
        if not self.pending:
            return
        pipe = self.client.pipeline(transaction=False)
        for s in self.pending:
            pipe.hget(SESSION_KEY.format(s.session), COUNT_FIELD)
        counts = pipe.execute()
        seen_at = time.time()
        waiting: deque[Sample] = deque()
        for s, count in zip(self.pending, counts, strict=True):
            if count is not None and int(count) >= s.count:
                s.visible = seen_at
                self.run.samples.append(s)
            else:
                waiting.append(s)
        self.pending = waiting

    def warm_up(
        self, stream: Iterator[tuple[str, bytes]], *, alive: Callable[[], bool], log_path: Path
    ) -> None:
        """Send events one by one until a valid one is sent, then wait until it is applied."""
        started = time.perf_counter()
        valid = self.run.valid
        while self.run.valid == valid:
            self.send(list(islice(stream, 1)), sample=False)
            self.run.warm_up += 1
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while not self.client.hget(SESSION_KEY.format(self.last_session), COUNT_FIELD):
            if not alive():
                raise RuntimeError(f"the processor exited: {_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the processor showed nothing in {WARM_UP_TIMEOUT:g} s")
            time.sleep(0.01)
        self.run.warm_up_seconds = time.perf_counter() - started

    def paced(self, stream: Iterator[tuple[str, bytes]]) -> tuple[float, float]:
        """Send ``rate`` events/s for ``seconds``, polling as it goes; the window (epoch s)."""
        run = self.run
        total = round(run.rate * run.seconds)
        started = last = time.time()
        while run.produced < total:
            due = min(total, int((time.time() - started) * run.rate) + 1) - run.produced
            if due > 0:
                self.send(list(islice(stream, due)))
                run.produced += due
            self.poll()
            last = self._round(last)
        ended = time.time()
        run.seconds = ended - started
        return started, ended

    def settle(self, timeout: float) -> None:
        """Keep polling until every sample is visible, or ``timeout`` s (the rest: unseen)."""
        deadline = time.monotonic() + timeout
        last = time.time()
        while self.pending and time.monotonic() < deadline:
            self.poll()
            last = self._round(last)
        self.run.samples.extend(self.pending)
        self.pending.clear()

    def _round(self, last: float) -> float:
        """End a loop round: sleep the poll interval, note a gap if the round took too long."""
        time.sleep(POLL_SECONDS)
        now = time.time()
        if now - last > GAP_SECONDS:
            self.run.gaps.append((last, now))
        return now


# Lakehouse facts -------------------------------------------------------------------------------


def _wait_committed(lake: Platform, event_log: EventLog, timeout: float) -> bool:
    """Wait until ``bronze.events`` has committed every shard to its end; False on timeout."""
    from shoplake.ingest.stream_sink import EVENTS_TABLE, read_positions

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        applied = read_positions(lake.catalog.load_table(EVENTS_TABLE), "valkey")
        if all(event_log.lag(s, applied.get(s)) == 0 for s in range(event_log.shards)):
            return True
        time.sleep(0.1)
    return False


def _lake_facts(
    lake: Platform, run: LatencyRun, window: tuple[float, float], sort_key: Callable[[str], str]
) -> None:
    """Freshness of the samples in ``bronze.events``, commits and files written in the window."""
    from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE

    events = lake.catalog.load_table(EVENTS_TABLE)
    dead = lake.catalog.load_table(DEAD_LETTERS_TABLE)
    run.events_rows, run.dead_rows = snapshot_rows(events), snapshot_rows(dead)
    sent = {s.event_id: s.sent for s in run.samples}
    commits, published = commit_history(events, sort_key, set(sent))
    run.commits = [c for c in commits.values() if window[0] <= c.committed <= window[1]]
    run.lake_ms = [(commits[i].committed - sent[e]) * 1000 for e, i in published.items()]
    run.lake_missing = len(sent) - len(run.lake_ms)
    for table in (events, dead):
        for path in Path(local_path(table.location())).rglob("*"):
            if not path.is_file() or not window[0] <= path.stat().st_mtime <= window[1]:
                continue
            if path.name.endswith(".metadata.json"):
                run.table_commits += 1
            elif path.suffix == ".parquet":
                run.data_files += 1
            else:
                run.other_files += 1


def commit_history(
    events: Table, sort_key: Callable[[str], str], wanted: set[str]
) -> tuple[dict[int, CommitSpan], dict[str, int]]:
    """The processor's appends to ``bronze.events`` by snapshot id, and which one published
    each ``wanted`` event id.

    A snapshot's summary holds the shard positions it brought the table up to, so a row is in
    the first snapshot whose position for the row's shard is at or after the row's. The rows'
    ``_ingested_at`` is when the processor began that commit (dead letters are committed first
    in it); the snapshot's timestamp is taken just before the catalog commit publishes it.
    """
    from shoplake.lake.snapshots import summary_int, summary_value

    bounds: dict[int, list[tuple[str, int]]] = defaultdict(list)
    commits: dict[int, CommitSpan] = {}
    for snapshot in sorted(events.snapshots(), key=lambda s: s.sequence_number or 0):
        positions = summary_value(snapshot, POSITIONS_SUMMARY)
        if positions is None:
            continue
        for shard, position in json.loads(positions).items():
            bounds[int(shard)].append((sort_key(position), snapshot.snapshot_id))
        committed = snapshot.timestamp_ms / 1000
        commits[snapshot.snapshot_id] = CommitSpan(
            committed, committed, summary_int(snapshot, "added-records"),
            summary_int(snapshot, "added-data-files"),
        )  # fmt: skip
    columns = ("event_id", "_shard", "_position", "_ingested_at")
    data = events.scan(selected_fields=columns).to_arrow()
    published = {}
    for event_id, shard, position, ingested in zip(
        *(data.column(c).to_pylist() for c in columns), strict=True
    ):
        keys = bounds[shard]
        at = bisect.bisect_left(keys, (position,))
        if at == len(keys):
            continue
        commit = commits[keys[at][1]]
        commit.started = min(commit.started, ingested.timestamp())
        if event_id in wanted:
            published[event_id] = keys[at][1]
    return commits, published


# Building blocks -------------------------------------------------------------------------------


def _server_settings(settings: Settings, work: Path) -> Settings:
    """Settings whose local valkey lives under ``work``, on a free port."""
    services = settings.services.model_copy(update={"valkey_port": free_port()})
    return settings.model_copy(update={"data_dir": work, "services": services})


def _flush(url: str) -> None:
    """Empty the benchmark's valkey: no log entries, no session state."""
    from shoplake.streams.online import redis_client

    client = redis_client(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _child_environment(settings: Settings) -> dict[str, str]:
    """What a worker process must be told of ``settings``, as ``SHOPLAKE_*`` variables.

    Worker processes get ``--data-dir`` only and read the rest from shoplake.toml and the
    environment, so the settings this benchmark changes travel in the environment.
    """
    stream = settings.stream
    return {
        "SHOPLAKE_SOURCE__URL": settings.source_url,
        "SHOPLAKE_LAKE__CATALOG_URI": settings.catalog_uri,
        "SHOPLAKE_LAKE__WAREHOUSE": settings.warehouse,
        "SHOPLAKE_SERVICES__VALKEY_PORT": str(settings.services.valkey_port),
        "SHOPLAKE_STREAM__BACKEND": stream.backend,
        "SHOPLAKE_STREAM__URL": str(stream.url),
        "SHOPLAKE_STREAM__PREFIX": stream.prefix,
        "SHOPLAKE_STREAM__SHARDS": str(stream.shards),
        "SHOPLAKE_STREAM__BATCH_SECONDS": repr(stream.batch_seconds),
        "SHOPLAKE_STREAM__BATCH_EVENTS": str(stream.batch_events),
    }


def _children_settings(settings: Settings) -> Any:
    """For the duration of a ``with``: worker processes started here see ``settings``."""
    return mock.patch.dict(os.environ, _child_environment(settings))


def _start_processor(lake: Platform, log_path: Path) -> subprocess.Popen[bytes]:
    """``shoplake stream process`` (runs until killed) on the lakehouse, stderr to a log."""
    from shoplake.services import child_setup

    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(lake.settings.data_dir)]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*command, "stream", "process"],
            env=os.environ | _child_environment(lake.settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=child_setup,  # noqa: PLW1509 - only resets signal state
        )


def _cpu_now(valkey_pid: int | None) -> tuple[float, float | None]:
    """CPU seconds so far of this process with its reaped children, and of the valkey server."""
    import resource

    own = sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    return own, process_cpu_seconds(valkey_pid)


def _cpu_since(
    before: tuple[float, float | None], valkey_pid: int | None
) -> tuple[float, float | None]:
    own, valkey = _cpu_now(valkey_pid)
    return own - before[0], None if valkey is None or before[1] is None else valkey - before[1]


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds another process has used (Linux /proc; None: unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else "(no output)"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation), NaN for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")
