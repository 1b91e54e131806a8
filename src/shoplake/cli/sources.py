"""Stage 1 commands: generate a source, simulate change, load the real ClassicModels dump."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, err, plural, print_table, say

sources_app = typer.Typer(
    help="Load real data into the source database; serve a supplier REST API.",
    no_args_is_help=True,
)

SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="SQLAlchemy URL of the source database [env SHOPLAKE_SOURCE__URL; default: "
        "SQLite <data-dir>/source.db], e.g. postgresql://user:pw@host/db.",
        show_default=False,
    ),
]


def generate(
    ctx: typer.Context,
    scale: Annotated[
        float, typer.Option(min=0.001, help="1 ≈ 10k customers, 100k orders, 1M order lines.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Same seed, same contents.")] = 42,
    source: SourceOption = None,
) -> None:
    """Create the ClassicModels schema (plus ratings) and fill it with seeded synthetic data.

    Customers get latent tastes (product lines, vendors, scales, price band) that drive what
    they order and how they rate; the tastes are saved beside the source, not in it.
    """
    plat = platform(ctx, **{"source.url": source})
    result = plat.generate(scale=scale, seed=seed)
    rows = [{"table": t, "rows": n} for t, n in result.counts.items()]
    from shoplake.redact import redact

    title = f"source {redact(plat.settings.source_url)}"
    print_table(rows, ["table", "rows"], title=title)
    say(
        f"generated {plural(sum(result.counts.values()), 'row')} in {result.seconds:.1f} s; "
        f"tastes in {plat.settings.tastes_path}"
    )


def simulate(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option(min=0, help="New orders to place.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of this round of changes.")] = 7,
    source: SourceOption = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Apply a realistic round of changes to the source, in one transaction.

    New orders with lines and payments, shipments and cancellations, credit-limit and price
    changes, customers moving, new ratings and re-ratings, and a few deletes.
    """
    result = platform(ctx, **{"source.url": source}).simulate(orders=orders, seed=seed)
    if output == "json":
        emit_json(result.changes)
        return
    print_table([{"change": k, "rows": v} for k, v in result.changes.items()], ["change", "rows"])


def _ratings_file(choice: str) -> Path | None:
    """The ratings CSV a ``--ratings`` value names: none, the shipped one, or a file."""
    from shoplake.generate.classicmodels import SHIPPED_RATINGS, shipped_file

    if choice.lower() == "none":
        return None
    if choice.lower() == "shipped":
        return shipped_file(SHIPPED_RATINGS)
    path = Path(choice)
    if not path.is_file():
        raise typer.BadParameter(
            f"{choice!r} is not a file (give a CSV path, shipped or none)",
            param_hint="'--ratings'",
        )
    return path


def load_classicmodels(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="A ClassicModels MySQL dump [default: the public dump (version 3.1) shipped "
            "with shoplake].",
            show_default=False,
        ),
    ] = None,
    ratings: Annotated[
        str,
        typer.Option(
            metavar="PATH|shipped|none",
            help="Ratings to load into `ratings`: a CSV (customernumber, productcode, "
            "productrating), `shipped` for the course's ratings_ml_training.csv that ships with "
            "shoplake (2,532 ratings), or `none`. The default is none, as with the public dump, "
            "which has no ratings: recommendations then learn from purchases (and clicks).",
        ),
    ] = "none",
    source: SourceOption = None,
) -> None:
    """Load the public ClassicModels MySQL dump unchanged into the configured source."""
    ratings_csv = _ratings_file(ratings)
    counts = platform(ctx, **{"source.url": source}).load_classicmodels(path, ratings_csv)
    print_table([{"table": t, "rows": n} for t, n in counts.items()], ["table", "rows"])
    if ratings_csv is None:
        say(
            "no ratings loaded (the public dump has none): interactions come from purchases; "
            "`--ratings shipped` adds the course's ratings"
        )


def api(
    ctx: typer.Context,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port [default supplier.port: 8070].", show_default=False
        ),
    ] = None,
    reseed: Annotated[
        bool, typer.Option("--reseed", help="Rebuild the store from the source first.")
    ] = False,
    latency_ms: Annotated[
        float | None,
        typer.Option(min=0, help="Milliseconds added to every data request.", show_default=False),
    ] = None,
    error_rate: Annotated[
        float | None,
        typer.Option(
            min=0, max=1, help="Share of data requests answered 500/502/503.", show_default=False
        ),
    ] = None,
    drop_rate: Annotated[
        float | None,
        typer.Option(
            min=0, max=1, help="Share whose connection drops mid-body.", show_default=False
        ),
    ] = None,
    malformed_rate: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Share of pages cut short (not JSON).", show_default=False),
    ] = None,
    token_ttl: Annotated[
        float | None,
        typer.Option(min=0.001, help="Access token lifetime, seconds.", show_default=False),
    ] = None,
) -> None:
    """Serve a supplier's REST API (catalog and reviews) on 127.0.0.1 until interrupted.

    OAuth2 client credentials at POST /oauth/token (client supplier.client_id with
    supplier.client_secret; more in supplier.clients), then GET /v1/products and /v1/reviews with
    `limit`, `cursor` and `updated_since`, paginated by keyset on (updated_at, id). Per-client rate
    limit (429 + Retry-After). The store, <data-dir>/supplier/supplier.db, is seeded from the
    source's products on first start. Fault options (default supplier.faults.*) inject latency,
    5xx answers, dropped connections and truncated pages, deterministically from
    supplier.faults.seed.
    """
    from shoplake.supplier.app import run

    overrides = {
        "supplier.port": port,
        "supplier.token_ttl_seconds": token_ttl,
        "supplier.faults.latency_ms": latency_ms,
        "supplier.faults.error_rate": error_rate,
        "supplier.faults.drop_rate": drop_rate,
        "supplier.faults.malformed_rate": malformed_rate,
    }
    settings = platform(ctx, **overrides).settings
    run(settings, reseed=reseed, announce=lambda line: err.print(line, soft_wrap=True))


def api_changes(
    ctx: typer.Context,
    changes: Annotated[int, typer.Option(min=0, help="Changes to apply.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of this round of changes.")] = 7,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Change the supplier API's store (also while it runs): prices, stock, discontinued
    products, new reviews, edited ratings. Each changed record gets updated_at = now."""
    from shoplake.supplier.app import ensure_store

    counts = ensure_store(platform(ctx).settings).apply_changes(changes, seed)
    if output == "json":
        emit_json(counts)
        return
    print_table([{"change": k, "records": v} for k, v in counts.items()], ["change", "records"])


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="1 · generate")(generate)
    app.command(rich_help_panel="1 · generate")(simulate)
    sources_app.command("load-classicmodels")(load_classicmodels)
    sources_app.command("api")(api)
    sources_app.command("api-changes")(api_changes)
    app.add_typer(sources_app, name="sources", rich_help_panel="1 · generate")
