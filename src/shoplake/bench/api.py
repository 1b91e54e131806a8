"""Measure ``GET /recommendations`` on loopback against the floor on this machine.

In ``<data_dir>/bench-api`` (removed first): a generated shop is ingested, transformed and
trained while a valkey of its own runs, so promotion pushes every customer's list to it. Then
two servers, each its own uvicorn process with one worker (uvloop, httptools), stopped by PID:

* **bare** — a FastAPI endpoint that only reads the customer's key from valkey
  (:mod:`shoplake.bench.api_server`): the floor;
* **shoplake** — ``create_app``: API-key check, rate limit (raised out of the way), metrics,
  the online-store lookup with its fallbacks.

Each is driven by :mod:`shoplake.bench.http_load` from this process: the maximum requests/s
with 50 concurrent clients (closed loop; also 10 clients, for comparison with the floor's usual
figure), and p50/p99 latency at a fixed 1,000 requests/s (open loop, latency from each
request's scheduled start). Rounds alternate between the servers so noise spreads over both.
Each phase reports p50, p99 and the maximum latency. Targets: shoplake's maximum ≥ 70% of the
bare endpoint's; p99 ≤ 10 ms at 1,000 requests/s, and within 2× the bare endpoint's p99.
"""

from __future__ import annotations

import datetime as dt
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.bench.http_load import LoadResult, Target, closed_loop, open_loop
from shoplake.bench.ingest import _progress
from shoplake.bench.workspace import valkey_workspace, write_report
from shoplake.services import child_setup, free_port, stop_child

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.platform import Platform

THROUGHPUT_SHARE_TARGET = 0.70
P99_TARGET_MS = 10.0
#: shoplake's p99 at the fixed rate may be at most this multiple of the bare endpoint's.
P99_VS_BARE_TARGET = 2.0
RATE = 1_000.0
CLIENTS = (50, 10)
SERVERS = ("bare", "shoplake")


@dataclass
class Measurement:
    server: str
    mode: str  # "closed 50", "closed 10", "open 1000/s"
    result: LoadResult


@dataclass
class ApiBench:
    scale: float
    seconds: float
    started: dt.datetime
    customers: int = 0
    measurements: list[Measurement] = field(default_factory=list)
    finished: dt.datetime | None = None

    def open_loop_results(self, server: str) -> list[LoadResult]:
        """``server``'s open-loop measurements, one per round, in order."""
        mode = f"open {RATE:,.0f}/s"
        return [m.result for m in self.measurements if (m.server, m.mode) == (server, mode)]

    def median_p99(self, server: str) -> float:
        """The median over the rounds of ``server``'s open-loop p99 (ms)."""
        import statistics

        runs = self.open_loop_results(server)
        return statistics.median(r.percentile(0.99) for r in runs) if runs else 0.0

    def open_rounds(self) -> list[str]:
        """One Markdown row per round and server of the open-loop p50, p99 and max."""
        rows = []
        for server in SERVERS:
            for number, result in enumerate(self.open_loop_results(server), start=1):
                rows.append(
                    f"| {number} | {server} | {result.percentile(0.5):.2f} | "
                    f"{result.percentile(0.99):.2f} | {result.percentile(1.0):.2f} |"
                )
        return sorted(rows, key=lambda row: int(row.split("|")[1]))

    def best(self, server: str, mode: str) -> LoadResult:
        runs = [m.result for m in self.measurements if (m.server, m.mode) == (server, mode)]
        return max(runs, key=lambda r: r.rate) if mode.startswith("closed") else runs[-1]


def run_api_benchmark(
    settings: Settings, *, scale: float, report: Path, seconds: float = 10.0, rounds: int = 2
) -> Path:
    """Set up, measure both servers, write the Markdown report; return its path."""
    from shoplake.services import start_valkey

    bench = ApiBench(scale, seconds, dt.datetime.now(dt.UTC))
    with valkey_workspace(settings, "bench-api") as shop:
        url = start_valkey(shop.settings).url
        key = _prepare(shop, bench)
        for _ in range(rounds):
            for server in SERVERS:
                _measure(shop.settings, server, url, key, bench)
    bench.finished = dt.datetime.now(dt.UTC)
    return write_report(report, render_report(bench, report.absolute()))


def _prepare(shop: Platform, bench: ApiBench) -> str:
    """Generate, ingest, transform and train (lists pushed to valkey); an `app` API key."""
    from shoplake.serve.keys import create_key

    _progress(f"generate → ingest → transform → train at scale {bench.scale:g}")
    shop.generate(scale=bench.scale, seed=42)
    shop.ingest()
    shop.transform()
    published = shop.train().published
    bench.customers = int(published.get("online store lists", 0))
    if not bench.customers:
        raise RuntimeError("promotion pushed no lists to the online store")
    _key_id, key = create_key(shop.settings, "app", "bench-api")
    return key


def _measure(settings: Settings, server: str, valkey_url: str, key: str, bench: ApiBench) -> None:
    port = free_port()
    process = _start(server, port, valkey_url, settings)
    rng = random.Random(7)
    known = _customers(settings)
    customers = [rng.choice(known) for _ in range(4096)]
    target = Target(
        "127.0.0.1",
        port,
        lambda i: f"/recommendations/{customers[i % len(customers)]}",
        {"X-API-Key": key} if server == "shoplake" else {},
    )
    try:
        closed_loop(target, connections=10, seconds=1.0)  # warm-up
        for clients in CLIENTS:
            result = closed_loop(target, connections=clients, seconds=bench.seconds)
            bench.measurements.append(Measurement(server, f"closed {clients}", result))
            _progress(f"{server}: {clients} clients → {result.rate:,.0f} requests/s")
        result = open_loop(target, rate=RATE, seconds=bench.seconds)
        bench.measurements.append(Measurement(server, f"open {RATE:,.0f}/s", result))
        _progress(f"{server}: {RATE:,.0f}/s → p99 {result.percentile(0.99):.2f} ms")
    finally:
        stop_child(process)


def _customers(settings: Settings) -> list[int]:
    """Every customer with a precomputed list."""
    from shoplake.platform import Platform

    sql = "SELECT DISTINCT customer_number FROM gold.recommendations ORDER BY 1"
    return [int(n) for n in Platform(settings).query(sql).table.column(0).to_pylist()]


def _start(server: str, port: int, valkey_url: str, settings: Settings) -> subprocess.Popen[bytes]:
    from shoplake.config import child_environment

    serve = settings.serve.model_copy(
        update={"rate_limit_per_second": 1e9, "rate_limit_burst": 10**9}
    )
    env = child_environment(settings.model_copy(update={"serve": serve}))
    command = [sys.executable, "-m", "shoplake.bench.api_server", server, "--port", str(port)]
    command += ["--valkey", valkey_url]

    process = subprocess.Popen(command, env=env, preexec_fn=child_setup)  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server} server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    stop_child(process)
    raise RuntimeError(f"{server} server did not listen on port {port} within 60 s")


def render_report(bench: ApiBench, report: Path) -> str:
    """The Markdown report: machine, both servers' figures, the targets."""
    from shoplake.bench.machine import DEFAULT_PACKAGES, collect_machine_facts

    took = (bench.finished - bench.started).total_seconds() / 60 if bench.finished else 0.0
    rows = []
    for server in SERVERS:
        for mode in [*(f"closed {c}" for c in CLIENTS), f"open {RATE:,.0f}/s"]:
            result = bench.best(server, mode)
            statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(result.statuses.items()))
            rows.append(
                f"| {server} | {mode} | {result.rate:,.0f} | {result.percentile(0.5):.2f} | "
                f"{result.percentile(0.99):.2f} | {result.percentile(1.0):.2f} | {statuses} | "
                f"{result.errors} |"
            )
    ours, bare = bench.best("shoplake", "closed 50"), bench.best("bare", "closed 50")
    share = ours.rate / bare.rate if bare.rate else 0.0
    p99, bare_p99 = bench.median_p99("shoplake"), bench.median_p99("bare")
    ratio = p99 / bare_p99 if bare_p99 > 0 else float("inf")
    packages = (*DEFAULT_PACKAGES, "fastapi", "uvicorn", "uvloop", "httptools", "valkey")
    lines = [
        "# API benchmark: GET /recommendations\n",
        f"- date (UTC): {bench.started:%Y-%m-%d %H:%M:%S} (took {took:.1f} min)",
        f"- command: `shoplake bench api --scale {bench.scale:g} --seconds {bench.seconds:g}`",
        f"- {bench.customers:,} customers' lists in the online store; each request a random one",
        "- servers: one uvicorn worker each (uvloop, httptools), the load generator in another "
        "process on the same 2 cores, loopback\n",
        "## Machine\n",
        collect_machine_facts(packages).markdown(),
        "\n## Figures\n",
        "Closed loop: best of the rounds; open loop: the last round. Latency in ms.\n",
        "| server | load | requests/s | p50 | p99 | max | statuses | errors |",
        "|---|---|---:|---:|---:|---:|---|---:|",
        *rows,
        f"\nOpen loop at {RATE:,.0f} requests/s, every round (servers alternate; a stall that "
        "hits both servers in one round is the machine's, not the server's):\n",
        "| round | server | p50 | p99 | max |",
        "|---:|---|---:|---:|---:|",
        *bench.open_rounds(),
        "\n## Targets\n",
        "p99 at the open loop's rate is the median over the rounds of each server's p99.\n",
        f"- Throughput with 50 clients: shoplake {ours.rate:,.0f} vs bare {bare.rate:,.0f} "
        f"requests/s = **{share:.0%} of the floor vs ≥ {THROUGHPUT_SHARE_TARGET:.0%} target — "
        f"{'MET' if share >= THROUGHPUT_SHARE_TARGET else 'NOT MET'}**.",
        f"- p99 at {RATE:,.0f} requests/s: **{p99:.2f} ms vs ≤ {P99_TARGET_MS:g} ms target — "
        f"{'MET' if p99 <= P99_TARGET_MS else 'NOT MET'}**.",
        f"- p99 at {RATE:,.0f} requests/s against the bare endpoint's: {p99:.2f} vs "
        f"{bare_p99:.2f} ms = **{ratio:.2f}× vs ≤ {P99_VS_BARE_TARGET:g}× target — "
        f"{'MET' if ratio <= P99_VS_BARE_TARGET else 'NOT MET'}**.",
    ]
    return "\n".join(lines) + "\n"
