"""Measure the recommender: training time, and serving latency from the online store.

Phases, on a generated shop in ``<data_dir>/bench-recommend`` (removed first) with a valkey of
its own on a free port, stopped by PID at the end:

1. generate → ingest → transform (timed, for context), then ``Platform.train()`` timed: the
   whole call (pinned snapshot read, features, split, every model fitted and evaluated, refit,
   registry write, gold tables published).
2. The promoted model's ``gold.recommendations`` pushed to the online store, then ``lookups``
   lookups of random customers (GET + JSON decode), each timed.
3. ``sessions`` live session-aware computations: a session state in the online store (3–8
   recent products, a random known customer or an anonymous visitor), then read state →
   score every product → store the result, each timed; and the scoring alone.

Target: p99 of a lookup ≤ 5 ms.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.bench.ingest import _progress
from shoplake.bench.workspace import valkey_workspace, write_report

if TYPE_CHECKING:
    from shoplake.config import Settings

LOOKUP_TARGET_MS = 5.0
METRICS = ("precision", "recall", "ndcg", "map", "coverage", "ndcg_vs_popularity")
SEED = 42


@dataclass
class Latencies:
    """Sorted latencies in milliseconds."""

    label: str
    values: list[float]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.values)
        index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
        return ordered[index]

    def row(self) -> str:
        p50, p99, worst = self.percentile(0.5), self.percentile(0.99), max(self.values)
        return f"| {self.label} | {len(self.values):,} | {p50:.3f} | {p99:.3f} | {worst:.3f} |"


@dataclass
class RecommendBench:
    scale: float
    started: dt.datetime
    stages: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[Latencies] = field(default_factory=list)
    model_version: str = ""
    finished: dt.datetime | None = None


def run_recommend_benchmark(
    settings: Settings,
    *,
    scale: float,
    report: Path,
    lookups: int = 5_000,
    sessions: int = 2_000,
    work_dir: Path | None = None,
) -> Path:
    """Run every phase, write the Markdown report to ``report`` and return its path."""
    from shoplake.services import start_valkey

    bench = RecommendBench(scale, dt.datetime.now(dt.UTC))
    with valkey_workspace(settings, "bench-recommend") as shop:
        _train_phase(shop, bench)  # before valkey runs: promotion pushes no lists yet
        url = start_valkey(shop.settings).url
        _lookup_phase(shop, bench, url, lookups)
        _live_phase(shop, bench, url, sessions)
    bench.finished = dt.datetime.now(dt.UTC)
    return write_report(report, render_report(bench, report.absolute()))


def _timed(bench: RecommendBench, stage: str, action: Any) -> Any:
    _progress(f"{stage} …")
    started = time.perf_counter()
    outcome = action()
    bench.stages[stage] = time.perf_counter() - started
    _progress(f"{stage}: {bench.stages[stage]:.2f} s")
    return outcome


def _train_phase(shop: Any, bench: RecommendBench) -> None:
    generated = _timed(bench, "generate", lambda: shop.generate(scale=bench.scale, seed=SEED))
    bench.counts = {k: v for k, v in generated.counts.items() if k in ("customers", "products")}
    _timed(bench, "ingest", shop.ingest)
    _timed(bench, "transform", shop.transform)
    trained = _timed(bench, "train", shop.train)
    document = trained.as_dict()
    bench.model_version = str(document.get("version", ""))
    bench.metrics = list(document.get("metrics", []))
    bench.counts.update({k: int(v) for k, v in document.get("counts", {}).items()})


def _lookup_phase(shop: Any, bench: RecommendBench, url: str, lookups: int) -> None:
    from shoplake.ml.online_store import lookup, push_recommendations
    from shoplake.streams.online import redis_client

    client = redis_client(url)
    table = shop.catalog.load_table("gold.recommendations").scan().to_arrow()
    pushed = _timed(bench, "push to online store", lambda: push_recommendations(client, table))
    customers = sorted(set(table.column("customer_number").to_pylist()))
    bench.counts["customers with lists"] = pushed
    rng = random.Random(SEED)
    values = []
    for _ in range(lookups):
        customer = rng.choice(customers)
        started = time.perf_counter()
        found = lookup(client, customer)
        values.append((time.perf_counter() - started) * 1000)
        assert found is not None and found["customer_number"] == customer
    bench.latencies.append(Latencies("precomputed lookup (GET + JSON decode)", values))
    client.close()


def _live_phase(shop: Any, bench: RecommendBench, url: str, sessions: int) -> None:
    from shoplake.ml.realtime import RECS_PREFIX, LiveRecommender, encode
    from shoplake.ml.serving import load_promoted
    from shoplake.streams.online import SessionStore, merge_session, redis_client

    model = load_promoted(shop.settings)
    live = LiveRecommender(model)
    store = SessionStore(url, shop.settings.stream.session_ttl_seconds)
    client = redis_client(url)
    rng = random.Random(SEED + 1)
    products = [str(p) for p in model.data.products]
    customers = [int(c) for c in model.data.customers]
    full, scoring = [], []
    for index in range(sessions):
        session_id = f"bench-{index}"
        state = _session_state(rng, products, rng.choice([None, *customers[:200]]))
        client.hset("session:" + session_id, mapping=merge_session({}, state))
        started = time.perf_counter()
        decoded = store.get(session_id)
        scored = time.perf_counter()
        document = live.recommend(session_id, decoded or {})
        scoring.append((time.perf_counter() - scored) * 1000)
        assert document is not None
        client.set(RECS_PREFIX + session_id, encode(document))
        full.append((time.perf_counter() - started) * 1000)
    bench.latencies.append(Latencies("live: read session → score → store", full))
    bench.latencies.append(Latencies("live: scoring only", scoring))
    client.close()


def _session_state(rng: random.Random, products: list[str], customer: int | None) -> list[Any]:
    """A few page views as events, for :func:`merge_session`."""
    from shoplake.streams.events import encode, page_view, validate

    now = dt.datetime.now(dt.UTC)
    views = [
        page_view(
            f"e{rng.getrandbits(48):x}", now + dt.timedelta(seconds=step), "s", code, customer
        )
        for step, code in enumerate(rng.sample(products, rng.randint(3, 8)))
    ]
    return [validate(encode(view), known_products=None, now=now) for view in views]


def _cell(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"


def render_report(bench: RecommendBench, report: Path) -> str:
    """The Markdown report."""
    from shoplake.bench.machine import DEFAULT_PACKAGES, collect_machine_facts

    lookup = bench.latencies[0]
    met = lookup.percentile(0.99) <= LOOKUP_TARGET_MS
    packages = (*DEFAULT_PACKAGES, "implicit", "scikit-learn", "faiss-cpu", "valkey")
    lines = [
        "# Recommender benchmark\n",
        f"- date (UTC): {bench.started:%Y-%m-%d %H:%M:%S}"
        + (
            f" (took {(bench.finished - bench.started).total_seconds() / 60:.1f} min)"
            if bench.finished
            else ""
        ),
        f"- command: `shoplake bench recommend --scale {bench.scale:g}`",
        f"- report: `{report.name}`\n",
        "## Machine\n",
        collect_machine_facts(packages).markdown(),
        "\n## Training\n",
        f"Generated shop at scale {bench.scale:g} (seed {SEED}): "
        + ", ".join(f"{v:,} {k}" for k, v in bench.counts.items())
        + ".\n",
        "| stage | seconds |",
        "|---|---:|",
        *[f"| {stage} | {seconds:.2f} |" for stage, seconds in bench.stages.items()],
        f"\n**Training (`Platform.train()`, model {bench.model_version}): "
        f"{bench.stages.get('train', 0.0):.2f} s.**\n",
    ]
    if bench.metrics:
        keys = [k for k in METRICS if k in bench.metrics[0]]
        lines += [
            "| model | " + " | ".join(keys) + " |",
            "|---|" + "---:|" * len(keys),
            *[
                f"| {m.get('model')} | " + " | ".join(_cell(m[k]) for k in keys) + " |"
                for m in bench.metrics
            ],
        ]
    lines += [
        "\n## Serving latency (milliseconds, one client, local valkey)\n",
        "| operation | calls | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|",
        *[latency.row() for latency in bench.latencies],
        "\n## Target\n",
        f"p99 of a precomputed lookup: **{lookup.percentile(0.99):.3f} ms measured vs ≤ "
        f"{LOOKUP_TARGET_MS:g} ms target — {'MET' if met else 'NOT MET'}**.",
    ]
    return "\n".join(lines) + "\n"
