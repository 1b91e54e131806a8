"""``shoplake demo``: the lifecycle end to end on the embedded defaults, narrated stage by stage."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import ingest_progress, out, plural, print_table, say
from shoplake.cli.pipeline import print_ingest_report
from shoplake.errors import ShoplakeError
from shoplake.redact import redact

if TYPE_CHECKING:
    from shoplake.cli.demo_next import Picks
    from shoplake.orchestrate.execute import AssetOutcome, RunSummary
    from shoplake.platform import Platform
    from shoplake.services import ServiceInfo

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
            f"  {layer}: {len(built)} of {plural(len(items), 'model')} ({names}) — "
            f"{plural(rows, 'row')}, {plural(passed, 'contract')} passed"
        )
    for item in summary.assets:
        if item.error:
            say(f"[red]  {item.asset}: {item.error}[/red]")


#: How a simulated change's noun reads, one and many, where dropping the s is not enough.
CHANGED_NOUNS = {"orderdetails": ("order line", "order lines")}


def change_summary(changes: dict[str, int]) -> str:
    """``1 customer deleted, 12 order lines inserted``: the non-zero changes of a simulation,
    whose keys read ``<things>_<done>`` (``customers_deleted``)."""
    phrases = []
    for key, count in changes.items():
        if not count:
            continue
        things, _, done = key.rpartition("_")
        one, many = CHANGED_NOUNS.get(things, (things.removesuffix("s"), things))
        phrases.append(f"{plural(count, one.replace('_', ' '), many.replace('_', ' '))} {done}")
    return ", ".join(phrases)


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
    classicmodels: Annotated[
        bool,
        typer.Option(
            "--classicmodels",
            help="Tell the story on the real public ClassicModels dump shipped with shoplake "
            "instead of a generated shop (no generate, simulate or oracle: the dump stays as "
            "published, so gold can be checked against it).",
        ),
    ] = False,
) -> None:
    """Run the lifecycle on a fresh data dir: generate (or load the real ClassicModels dump),
    ingest, change, ingest again, stream, transform, recommend, query."""
    plat = platform(ctx)
    data_dir = plat.settings.data_dir
    _fresh_data_dir(data_dir)
    story = "the real ClassicModels dump" if classicmodels else f"scale {scale}, seed {seed}"
    out.print(f"[bold]shoplake demo[/bold] in {data_dir} ({story})")

    if classicmodels:
        _load_stage(plat)
    else:
        _generate_stage(plat, scale, seed)

    _heading("2", "ingest", "land every source row in the lakehouse's bronze layer")
    started = time.perf_counter()
    with ingest_progress() as hook:
        first = plat.ingest(progress=hook)
    seconds = time.perf_counter() - started
    print_ingest_report(first)
    out.print(
        f"  Landed {plural(first.rows, 'row')} in {plural(len(first.results), 'bronze table')} "
        f"in {seconds:.1f} s "
        f"({first.rows / max(seconds, 1e-9):,.0f} rows/s). Each table is one atomic Iceberg "
        "commit that also records its watermark, so a crash can never leave data and state "
        "disagreeing."
    )
    again = plat.ingest()
    out.print(
        f"  Ran it again: {sum(r.status == 'unchanged' for r in again.results)} of "
        f"{plural(len(again.results), 'table')} unchanged, no new snapshot — ingestion is "
        "idempotent."
    )

    changed_ok = _change_stage(plat, orders, seed, classicmodels)
    supplier_ok = _supplier_stage(plat, seed)
    own, valkey = _start_own_valkey(plat)  # one port, kept from here to the end
    try:
        _stream_stage(own, valkey, events, seed)
        transformed = _transform_stage(own, classicmodels)
        picks = _recommend_stage(own, classicmodels)
        _heading("query", "ask the lakehouse", "read-only SQL over any layer with DuckDB")
        revenue = own.query(REVENUE_SQL).table.to_pylist()[0]
        out.print(
            f"  bronze.orderdetails replayed to its latest versions: {revenue['orders']:,} "
            f"orders, revenue {revenue['revenue']:,.2f} — the same total gold.fact_orders reports."
        )
    finally:
        own.down()

    _print_next(plat, picks, classicmodels=classicmodels, valkey_port=valkey.port)
    if not (first.ok and changed_ok and supplier_ok and transformed and picks is not None):
        say("[red]some steps failed; see the errors above[/red]")
        raise typer.Exit(1)


def _generate_stage(plat: Platform, scale: float, seed: int) -> None:
    """Stage 1 on a generated shop: the schema, seeded data and latent tastes."""
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


def _load_stage(plat: Platform) -> None:
    """Stage 1 on the real data: the public dump, unchanged, and no generator."""
    _heading("1", "load", "the real operational database: the public ClassicModels dump")
    counts = plat.load_classicmodels()
    out.print(
        f"  Loaded the public ClassicModels sample (version 3.1, shipped with shoplake) "
        f"unchanged into {redact(plat.settings.source_url)}: {counts['customers']:,} customers, "
        f"{counts['products']:,} products, {counts['orders']:,} orders, "
        f"{counts['orderdetails']:,} order lines."
    )
    out.print(
        "  generate is skipped: the real shop replaces the generated one. The dump has no "
        "ratings, so the recommender learns from what customers bought (and what they click), "
        "and there are no latent tastes to grade it against."
    )


def _change_stage(plat: Platform, orders: int, seed: int, classicmodels: bool) -> bool:
    """Stages 1 and 2 again: the shop trades, and only the change lands."""
    _heading("1 again", "simulate", "the shop keeps trading")
    if classicmodels:
        out.print(
            "  skipped with --classicmodels: the dump stays exactly as published, so gold can "
            "be checked against it to the cent (`shoplake simulate` then shows the change)."
        )
        return True
    changes = plat.simulate(orders=orders, seed=seed + 1).changes
    out.print(f"  Applied in one source transaction: {change_summary(changes)}.")

    _heading("2 again", "incremental ingest", "only what changed lands")
    with ingest_progress() as hook:
        second = plat.ingest(progress=hook)
    print_ingest_report(second)
    out.print(
        f"  {plural(second.rows, 'change row')} landed as _op insert/update/delete. "
        "orderdetails and ratings were read from their watermark only (cursor); tables with "
        "no trustworthy cursor were diffed by primary key and row hash (snapshot)."
    )
    return second.ok


def _start_own_valkey(plat: Platform, attempts: int = 3) -> tuple[Platform, ServiceInfo]:
    """Start the demo's valkey on a free port (another, should one be taken meanwhile); the
    returned platform uses that port for the rest of the demo."""
    from shoplake.services import ServiceError, free_port

    for attempt in range(1, attempts + 1):
        services = plat.settings.services.model_copy(update={"valkey_port": free_port()})
        own = plat.with_settings(plat.settings.model_copy(update={"services": services}))
        try:
            return own, own.up()[0]
        except ServiceError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _stream_stage(plat: Platform, valkey: ServiceInfo, events: int, seed: int) -> None:
    """Stage 2 · stream: simulated shoppers onto the event log, processed exactly once."""
    _heading("2 · stream", "clickstream", "what shoppers do right now, exactly once")
    produced = plat.produce(events=events, bad_rate=0.01, seed=seed)
    processed = plat.process(until_idle=True)
    out.print(
        f"  Started valkey (pid {valkey.pid}, port {valkey.port}, a free one, kept to the end; "
        f"AOF on) as the event log, produced {plural(produced.events, 'simulated event')} in "
        f"{produced.seconds:.1f} s ({produced.rate:,.0f}/s) across "
        f"{plural(plat.settings.stream.shards, 'shard')}."
    )
    out.print(
        f"  The processor committed {plural(processed.valid, 'event')} to bronze.events and "
        f"{processed.invalid:,} malformed {'one' if processed.invalid == 1 else 'ones'} to "
        "bronze.dead_letters (with the reason), dropped "
        f"{plural(processed.duplicates, 'producer retry', 'producer retries')}, in "
        f"{plural(processed.commits, 'commit')} "
        f"({processed.seconds:.1f} s); each commit carries its shard positions, so a crash "
        "resumes exactly where the data stops. Live session state is in valkey."
    )


def _transform_stage(plat: Platform, classicmodels: bool) -> bool:
    """Stages 3 and 4: the lakehouse's tables, then the models through Dagster."""
    from shoplake.orchestrate.execute import run as run_assets

    _heading("3", "store", "an Iceberg lakehouse any engine can read")
    stats = plat.tables()
    print_table(
        [s.as_dict() for s in stats],
        ["name", "rows", "data_files", "snapshots", "watermark"],
    )
    out.print(f"  Catalog: {redact(plat.settings.catalog_uri)}; data: {plat.settings.warehouse}.")

    _heading("4", "transform", "clean current state (silver), a star schema and ML tables (gold)")
    report = run_assets(plat, ["transform"], log_level="ERROR")
    _print_transform(report)
    figures = plat.query(GOLD_SQL).table.to_pylist()[0]
    out.print(
        f"  gold.fact_orders: {plural(figures['lines'], 'order line')}, revenue "
        f"{figures['revenue']:,.2f}, profit {figures['profit']:,.2f}; dim_customers keeps "
        f"{plural(figures['versions'], 'version')} of {plural(figures['customers'], 'customer')} "
        "(SCD type 2)."
    )
    if classicmodels:
        pairs = plat.query("SELECT count(*) AS n FROM gold.interactions").table.to_pylist()[0]
        out.print(
            "  silver.ratings and gold.ratings_for_ml are published empty, with a note (the "
            f"dump has no ratings); gold.interactions holds "
            f"{plural(pairs['n'], 'customer × product pair')} from purchases."
        )
    sessions = plat.query(SESSIONS_SQL).table.to_pylist()[0]
    out.print(
        f"  silver.sessions: {plural(sessions['sessions'], 'session')} (30-minute gap), "
        f"{sessions['conversion']:.1%} converted, {plural(sessions['late'], 'late event')} "
        "placed in their sessions."
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
    return report.success


def _print_next(
    plat: Platform, picks: Picks | None, *, classicmodels: bool, valkey_port: int
) -> None:
    """The "Try next" lines and the dashboard's, each runnable as printed."""
    from shoplake.cli.demo_next import dashboard, try_next

    if picks is None:
        return
    out.print()
    out.print("[bold]Try next[/bold]")
    for line in try_next(plat, picks, classicmodels=classicmodels, valkey_port=valkey_port):
        out.print(f"  {line}", markup=False)
    out.print()
    out.print("[bold]Open the dashboard[/bold] (stage 5 · serve: the API and the dashboard)")
    for line in dashboard(plat):
        out.print(f"  {line}", markup=False)


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
        f"  `ingest api` read {plural(loaded['products'].fetched, 'product')} and "
        f"{plural(loaded['reviews'].fetched, 'review')} in {plural(first.requests, 'request')}, "
        f"surviving {plural(sum(first.retries.values()), 'retry', 'retries')} "
        f"({', '.join(sorted(first.retries)) or 'none'}) and fetching "
        f"{plural(first.token_fetches, 'token')}; "
        f"{plural(sum(r.dead_letters for r in first.results), 'invalid record')} went to "
        "bronze.supplier_dead_letters with the reason (`shoplake query 'SELECT reason "
        "FROM bronze.supplier_dead_letters'`)."
    )
    out.print(
        f"  The supplier then changed {plural(sum(changes.values()), 'record')}; the next run "
        "asked only "
        f"for records updated since the watermark in bronze's snapshot summary and landed "
        f"{plural(sum(r.inserts + r.updates for r in again.results), 'new version')} from "
        f"{sum(r.fetched for r in again.results)} fetched. `shoplake doctor` diagnoses a broken "
        "connection layer by layer."
    )
    for result in first.results + again.results:
        if result.error:
            say(f"[red]  {result.resource}: {result.error}[/red]")
    return first.ok and again.ok


def _recommend_stage(plat: Platform, classicmodels: bool) -> Picks | None:
    """Stage 5: train, show a few customers' lists, then a live session's. Returns a customer
    and a product the "Try next" lines can name (None when training registered nothing)."""
    from shoplake.cli.demo_next import Picks

    _heading("5", "recommend", "serve the lakehouse to machine learning, in batch and live")
    trained = plat.train()
    als, popular = trained.metric("als"), trained.metric("popularity")
    oracle = next((m for m in trained.metrics if m.model == "oracle"), None)
    graded = (
        f"; the oracle that knows the true tastes reaches {oracle.ndcg:.3f}."
        if oracle
        else " (no oracle: real customers' tastes are not known)."
        if classicmodels
        else "."
    )
    out.print(
        f"  Trained on pinned snapshots ({trained.counts.get('interactions', 0):,} customer × "
        f"product interactions, the latest 20% held out): NDCG@10 ALS {als.ndcg:.3f} vs "
        f"popularity {popular.ndcg:.3f} ({trained.lift('als'):.2f}×)" + graded
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
    first: Picks | None = None
    for customer in customers:
        served = plat.recommend(customer, 3)
        names = "; ".join(f"{p.product_name} ({p.product_line})" for p in served.items)
        out.print(f"  customer {customer} ({served.strategy}): {names}")
        if first is None and served.items:
            first = Picks(int(customer), str(served.items[0].product_code))
    line, codes = _largest_line(plat)
    session = "demo-session"
    _browse(plat, session, codes[:3])
    plat.process(until_idle=True)
    live = _stored_session_list(plat.services()[0].url, session)
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
    return first if trained.version else None


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
