"""``shoplake demo``: the lifecycle end to end on the embedded defaults, narrated stage by stage."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import ingest_progress, out, print_table, say
from shoplake.cli.pipeline import print_ingest_report
from shoplake.errors import ShoplakeError
from shoplake.redact import redact

if TYPE_CHECKING:
    from shoplake.orchestrate.execute import AssetOutcome, RunSummary
    from shoplake.platform import Platform

DEMO_MARKER = ".shoplake-demo"

REVENUE_SQL = (
    "SELECT count(DISTINCT orderNumber) AS orders, sum(quantityOrdered * priceEach) AS revenue "
    "FROM (SELECT *, row_number() OVER (PARTITION BY orderNumber, productCode "
    "ORDER BY _batch_id DESC) AS version FROM bronze.orderdetails) WHERE version = 1 "
    "AND _op <> 'delete'"
)


GOLD_SQL = (
    "SELECT (SELECT count(*) FROM gold.fact_orders) AS lines, "
    "(SELECT sum(order_amount) FROM gold.fact_orders) AS revenue, "
    "(SELECT sum(profit) FROM gold.fact_orders) AS profit, "
    "(SELECT count(*) FROM gold.dim_customers) AS versions, "
    "(SELECT count(DISTINCT customer_number) FROM gold.dim_customers) AS customers"
)
SESSIONS_SQL = (
    "SELECT count(*) AS sessions, avg(CAST(converted AS INTEGER)) AS conversion, "
    "sum(late_events) AS late FROM silver.sessions"
)
TOP_LINES_SQL = (
    "SELECT product_line, sum(revenue) AS revenue FROM gold.sales_by_month "
    "GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
)


def _print_transform(summary: RunSummary) -> None:
    layers: dict[str, list[AssetOutcome]] = {}
    for item in summary.assets:
        layers.setdefault(item.asset.split(".")[0], []).append(item)
    for layer, items in layers.items():
        built = [i for i in items if i.outcome == "materialized"]
        rows = sum(i.rows or 0 for i in built)
        passed = sum(bool(summary.contracts.get(i.asset)) for i in built)
        names = ", ".join(i.asset.split(".")[1] for i in built)
        out.print(
            f"  {layer}: {len(built)} of {len(items)} models ({names}) — {rows:,} rows, "
            f"{passed} contracts passed"
        )
    for item in summary.assets:
        if item.error:
            say(f"[red]  {item.asset}: {item.error}[/red]")


def _fresh_data_dir(data_dir: Path) -> None:
    """Empty a data dir the demo made before; refuse to touch one it did not make."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise ShoplakeError(
                f"{data_dir} already holds data the demo did not create; run the demo "
                "elsewhere with `shoplake --data-dir .shoplake-demo demo`"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("created by `shoplake demo`; safe to delete\n")


def _heading(number: str, title: str, purpose: str) -> None:
    out.print()
    out.print(f"[bold]{number} · {title}[/bold] — {purpose}")


def demo(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(min=0.001, help="Size of the generated shop.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the generated shop.")] = 42,
    orders: Annotated[
        int, typer.Option(min=1, help="Orders placed between the two ingests.")
    ] = 500,
    events: Annotated[int, typer.Option(min=1, help="Clickstream events to stream.")] = 20_000,
) -> None:
    """Run the lifecycle on a fresh data dir: generate, ingest, change, ingest again, query."""
    plat = platform(ctx)
    data_dir = plat.settings.data_dir
    _fresh_data_dir(data_dir)
    out.print(f"[bold]shoplake demo[/bold] in {data_dir} (scale {scale}, seed {seed})")

    _heading("1", "generate", "the operational database where data is born")
    result = plat.generate(scale=scale, seed=seed)
    counts = result.counts
    source = redact(plat.settings.source_url)
    out.print(
        f"  Created the ClassicModels schema in {source} and filled it in "
        f"{result.seconds:.1f} s: {counts.get('customers', 0):,} customers, "
        f"{counts.get('products', 0):,} products, {counts.get('orders', 0):,} orders, "
        f"{counts.get('orderdetails', 0):,} order lines, {counts.get('ratings', 0):,} ratings."
    )
    out.print(
        f"  Each customer has latent tastes that drive orders and ratings; they are saved in "
        f"{plat.settings.tastes_path.name}, beside the source, as the answer key for the "
        "recommender."
    )

    _heading("2", "ingest", "land every source row in the lakehouse's bronze layer")
    started = time.perf_counter()
    with ingest_progress() as hook:
        first = plat.ingest(progress=hook)
    seconds = time.perf_counter() - started
    print_ingest_report(first)
    out.print(
        f"  Landed {first.rows:,} rows in {len(first.results)} bronze tables in {seconds:.1f} s "
        f"({first.rows / max(seconds, 1e-9):,.0f} rows/s). Each table is one atomic Iceberg "
        "commit that also records its watermark, so a crash can never leave data and state "
        "disagreeing."
    )
    again = plat.ingest()
    out.print(
        f"  Ran it again: {sum(r.status == 'unchanged' for r in again.results)} of "
        f"{len(again.results)} tables unchanged, no new snapshot — ingestion is idempotent."
    )

    _heading("1 again", "simulate", "the shop keeps trading")
    changes = plat.simulate(orders=orders, seed=seed + 1).changes
    summary = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in changes.items() if v)
    out.print(f"  Applied in one source transaction: {summary}.")

    _heading("2 again", "incremental ingest", "only what changed lands")
    with ingest_progress() as hook:
        second = plat.ingest(progress=hook)
    print_ingest_report(second)
    out.print(
        f"  {second.rows:,} change rows landed as _op insert/update/delete. orderdetails and "
        "ratings were read from their watermark only (cursor); tables with no trustworthy "
        "cursor were diffed by primary key and row hash (snapshot)."
    )

    supplier_ok = _supplier_stage(plat, seed)

    _heading("2 · stream", "clickstream", "what shoppers do right now, exactly once")
    services = plat.up()
    try:
        produced = plat.produce(events=events, bad_rate=0.01, seed=seed)
        processed = plat.process(until_idle=True)
        out.print(
            f"  Started valkey (pid {services[0].pid}, port {services[0].port}, AOF on) as the "
            f"event log, produced {produced.events:,} simulated events in {produced.seconds:.1f} s "
            f"({produced.rate:,.0f}/s) across {plat.settings.stream.shards} shards."
        )
        out.print(
            f"  The processor committed {processed.valid:,} events to bronze.events and "
            f"{processed.invalid:,} malformed ones to bronze.dead_letters (with the reason), "
            f"dropped {processed.duplicates:,} producer retries, in {processed.commits} commits "
            f"({processed.seconds:.1f} s); each commit carries its shard positions, so a crash "
            "resumes exactly where the data stops. Live session state is in valkey."
        )
    finally:
        plat.down()

    _heading("3", "store", "an Iceberg lakehouse any engine can read")
    stats = plat.tables()
    print_table(
        [s.as_dict() for s in stats],
        ["name", "rows", "data_files", "snapshots", "watermark"],
    )
    out.print(f"  Catalog: {redact(plat.settings.catalog_uri)}; data: {plat.settings.warehouse}.")

    _heading("4", "transform", "clean current state (silver), a star schema and ML tables (gold)")
    from shoplake.orchestrate.execute import run as run_assets

    report = run_assets(plat, ["transform"], log_level="ERROR")
    _print_transform(report)
    figures = plat.query(GOLD_SQL).table.to_pylist()[0]
    out.print(
        f"  gold.fact_orders: {figures['lines']:,} order lines, revenue {figures['revenue']:,.2f}, "
        f"profit {figures['profit']:,.2f}; dim_customers keeps {figures['versions']:,} versions of "
        f"{figures['customers']:,} customers (SCD type 2)."
    )
    sessions = plat.query(SESSIONS_SQL).table.to_pylist()[0]
    out.print(
        f"  silver.sessions: {sessions['sessions']:,} sessions (30-minute gap), "
        f"{sessions['conversion']:.1%} converted, {sessions['late']:,} late events placed in "
        "their sessions."
    )
    top = plat.query(TOP_LINES_SQL).table.to_pylist()
    out.print(
        "  Top product lines by revenue: "
        + ", ".join(f"{row['product_line']} {row['revenue']:,.0f}" for row in top)
        + "."
    )
    out.print(
        "  The models ran as Dagster assets (the path `shoplake run` takes), each checked "
        "against its contract (YAML beside the SQL) before it was published; `shoplake ui` "
        "shows the run and the asset graph, `shoplake lineage gold.fact_orders` what feeds what."
    )

    trained = _recommend_stage(plat)

    _heading("query", "ask the lakehouse", "read-only SQL over any layer with DuckDB")
    revenue = plat.query(REVENUE_SQL).table.to_pylist()[0]
    out.print(
        f"  bronze.orderdetails replayed to its latest versions: {revenue['orders']:,} orders, "
        f"revenue {revenue['revenue']:,.2f} — the same total gold.fact_orders reports."
    )

    out.print()
    out.print("[bold]Try next[/bold]")
    for line in (
        "source .venv/bin/activate               # puts `shoplake` on your PATH",
        "shoplake tables                         # every table, files, snapshots, watermarks",
        'shoplake query "SELECT status, count(*) FROM silver.orders GROUP BY 1"',
        "shoplake lineage gold.fact_orders       # upstream and downstream tables",
        "shoplake check                          # every data contract, on published tables",
        "shoplake simulate --orders 1000 && shoplake ingest && shoplake transform",
        "shoplake maintain                       # compact files, expire old snapshots",
        "shoplake run && shoplake ui             # the asset graph through Dagster, its web UI",
        "shoplake models list && shoplake recommend 103 && shoplake similar S10_1678",
        "shoplake stream produce --rate 500 --duration 10   # a live burst (starts valkey)",
        "shoplake stream process --until-idle && shoplake stream status",
        "shoplake sources load-classicmodels ../shared/data/classicmodels/mysqlsampledatabase.sql",
        "shoplake doctor                         # every connection checked layer by layer",
        "shoplake assess                         # security, reliability, performance findings",
        "shoplake transform --engine spark       # the same models on Spark (the spark extra)",
    ):
        out.print(f"  {line}")
    serve = plat.settings.serve
    out.print()
    out.print("[bold]Open the dashboard[/bold] (stage 5 · serve: the API and the dashboard)")
    for line in (
        "shoplake keys create --role analyst     # prints an API key once; keep it",
        f"shoplake serve                          # then open http://{serve.host}:{serve.port}/",
        f"                                        # API docs: http://{serve.host}:{serve.port}/docs",
    ):
        out.print(f"  {line}")
    if not (first.ok and second.ok and supplier_ok and report.success and trained):
        say("[red]some steps failed; see the errors above[/red]")
        raise typer.Exit(1)


def _supplier_stage(plat: Platform, seed: int) -> bool:
    """Stage 2 · API: a supplier's REST API, with faults, ingested incrementally."""
    from shoplake.config import SupplierFaultSettings
    from shoplake.services import free_port
    from shoplake.supplier.process import running_api
    from shoplake.supplier.store import SupplierStore, store_path

    _heading(
        "2 · API", "a supplier's REST API", "another company's data, over an unreliable network"
    )
    faults = SupplierFaultSettings(error_rate=0.05, drop_rate=0.03, malformed_rate=0.03, seed=seed)
    supplier = plat.settings.supplier.model_copy(
        update={"port": free_port(), "faults": faults, "page_size": 25, "token_ttl_seconds": 2.0}
    )
    api = plat.with_settings(plat.settings.model_copy(update={"supplier": supplier}))
    with running_api(api.settings) as url:
        first = api.ingest_api()
        changes = SupplierStore(store_path(api.settings.data_dir)).apply_changes(30, seed)
        again = api.ingest_api()
    loaded = {r.resource: r for r in first.results}
    out.print(
        f"  Started the supplier's API at {url} (OAuth2 client credentials, 2 s tokens, rate "
        "limit, and injected faults: 5% server errors, 3% dropped connections, 3% broken pages)."
    )
    out.print(
        f"  `ingest api` read {loaded['products'].fetched:,} products and "
        f"{loaded['reviews'].fetched:,} reviews in {first.requests:,} requests, surviving "
        f"{sum(first.retries.values())} retries ({', '.join(sorted(first.retries)) or 'none'}) "
        f"and fetching {first.token_fetches} token{'s' if first.token_fetches != 1 else ''}; "
        f"{sum(r.dead_letters for r in first.results)} invalid records went to "
        "bronze.supplier_dead_letters with the reason (`shoplake query 'SELECT reason "
        "FROM bronze.supplier_dead_letters'`)."
    )
    out.print(
        f"  The supplier then changed {sum(changes.values())} records; the next run asked only "
        f"for records updated since the watermark in bronze's snapshot summary and landed "
        f"{sum(r.inserts + r.updates for r in again.results)} new versions from "
        f"{sum(r.fetched for r in again.results)} fetched. `shoplake doctor` diagnoses a broken "
        "connection layer by layer."
    )
    for result in first.results + again.results:
        if result.error:
            say(f"[red]  {result.resource}: {result.error}[/red]")
    return first.ok and again.ok


def _recommend_stage(plat: Platform) -> bool:
    """Stage 5: train, show a few customers' lists, then a live session's."""
    _heading("5", "recommend", "serve the lakehouse to machine learning, in batch and live")
    trained = plat.train()
    als, popular = trained.metric("als"), trained.metric("popularity")
    oracle = next((m for m in trained.metrics if m.model == "oracle"), None)
    out.print(
        f"  Trained on pinned snapshots ({trained.counts.get('interactions', 0):,} customer × "
        f"product interactions, the latest 20% held out): NDCG@10 ALS {als.ndcg:.3f} vs "
        f"popularity {popular.ndcg:.3f} ({trained.lift('als'):.2f}×)"
        + (f"; the oracle that knows the true tastes reaches {oracle.ndcg:.3f}." if oracle else ".")
    )
    out.print(
        f"  Registered {trained.version} under {plat.settings.models_dir} and published "
        + ", ".join(f"{name} ({rows:,})" for name, rows in trained.published.items())
        + "."
    )
    customers = (
        plat.query("SELECT customer_number FROM gold.recommendations GROUP BY 1 ORDER BY 1 LIMIT 3")
        .table.column("customer_number")
        .to_pylist()
    )
    for customer in customers:
        served = plat.recommend(customer, 3)
        picks = "; ".join(f"{p.product_name} ({p.product_line})" for p in served.items)
        out.print(f"  customer {customer} ({served.strategy}): {picks}")
    line, codes = _largest_line(plat)
    session = "demo-session"
    services = plat.up()
    try:
        _browse(plat, session, codes[:3])
        plat.process(until_idle=True)
        live = _stored_session_list(services[0].url, session)
    finally:
        plat.down()
    lines = dict(zip(*plat.query(
        "SELECT product_code, product_line FROM silver.products"
    ).table.to_pydict().values(), strict=True))  # fmt: skip
    share = sum(lines.get(item["product_code"]) == line for item in live)
    out.print(
        f"  Live: an anonymous session viewed 3 {line} products; the stream processor rescored "
        f"it on each event and stored its list in valkey (recs:session:{session}): {share} of "
        f"its top {len(live)} are {line}. `shoplake recommend N --session ID` blends a known "
        "customer in."
    )
    return trained.version != ""


def _largest_line(plat: Platform) -> tuple[str, list[str]]:
    rows = plat.query(
        "SELECT product_line, list(product_code ORDER BY product_code) AS codes "
        "FROM silver.products GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).table.to_pylist()[0]
    return str(rows["product_line"]), [str(code) for code in rows["codes"]]


def _browse(plat: Platform, session: str, codes: list[str]) -> None:
    """Send page views of ``codes`` for an anonymous session onto the event log."""
    import datetime as dt
    import uuid

    from shoplake.streams.events import encode, page_view

    now = dt.datetime.now(dt.UTC)
    events = [
        page_view(uuid.uuid4().hex, now + dt.timedelta(seconds=i), session, code)
        for i, code in enumerate(codes)
    ]
    log = plat.event_log()
    try:
        log.produce([encode(event) for event in events], [session] * len(events))
    finally:
        log.close()


def _stored_session_list(url: str, session: str) -> list[dict[str, Any]]:
    """The live list the processor stored for a session."""
    import json

    from shoplake.ml.realtime import RECS_PREFIX
    from shoplake.streams.online import redis_client

    client = redis_client(url)
    try:
        stored = client.get(RECS_PREFIX + session)
    finally:
        client.close()
    return list(json.loads(stored)["recommended_items"]) if stored else []


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="start here")(demo)
