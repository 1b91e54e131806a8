"""Recommender commands: train, the model registry, recommendations and similar products."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, out, plural, print_table, say

if TYPE_CHECKING:
    from shoplake.ml.serving import ScoredProduct

PANEL = "5 · serve"
models_app = typer.Typer(
    help="The model registry: list, show and promote versions.", no_args_is_help=True
)

Output = Annotated[str, typer.Option(help="text or json.")]
Limit = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="How many products.")]
METRIC_COLUMNS = ("precision", "recall", "ndcg", "map", "coverage")


def train(ctx: typer.Context, output: Output = "text") -> None:
    """Train the recommender on a pinned lakehouse snapshot, evaluate it, register a version.

    Splits the interactions by time, fits popularity, content-based and ALS models on the
    earlier part and reports precision, recall, NDCG and MAP at k and catalogue coverage on the
    latest part (with the oracle ceiling on generated data). The first version is promoted and
    written to gold.recommendations, gold.user_embeddings and gold.item_embeddings.
    """
    report = platform(ctx).train(progress=None if output == "json" else say)
    if output == "json":
        emit_json(report.as_dict())
        return
    _metrics_table(report.as_dict()["metrics"], report.k)
    counts = report.counts
    trained = plural(counts["train_interactions"], "interaction")
    out.print(
        f"{report.version}: trained on {trained} before "
        f"{report.cutoff[:10]}, tested on {counts['test_interactions']:,}; serving "
        f"{report.served_model} refitted on all {counts['interactions']:,}"
    )
    if report.promoted:
        rows = report.published.get("gold.recommendations", 0)
        out.print(f"promoted {report.version}: gold.recommendations holds {plural(rows, 'row')}")
    else:
        out.print(f"not promoted: `shoplake models promote {report.version}` serves it")


def _metrics_table(metrics: list[dict[str, Any]], k: int) -> None:
    rows = []
    for m in metrics:
        row = {"model": m["model"]}
        row |= {_metric_label(name, k): f"{m[name]:.4f}" for name in METRIC_COLUMNS}
        row["ndcg vs popularity"] = f"{m['ndcg_vs_popularity'] or 0:.2f}×"
        rows.append(row)
    print_table(rows, list(rows[0]) if rows else [])


def _metric_label(name: str, k: int) -> str:
    return name if name == "coverage" else f"{name}@{k}"


@models_app.command("list")
def list_models(ctx: typer.Context, output: Output = "text") -> None:
    """Every registered version, oldest first, with its headline metrics."""
    infos = platform(ctx).models()
    if output == "json":
        emit_json([i.as_dict() for i in infos])
        return
    rows = []
    for info in infos:
        metrics = {m["model"]: m for m in info.metrics}
        served = metrics.get(info.summary.get("served_model", ""), {})
        rows.append(
            {
                "version": info.version,
                "promoted": "*" if info.promoted else "",
                "created": info.summary.get("created_at", ""),
                "interactions": info.summary.get("counts", {}).get("interactions", 0),
                "served": info.summary.get("served_model", ""),
                "ndcg": f"{served.get('ndcg', 0.0):.4f}",
                "vs popularity": f"{served.get('ndcg_vs_popularity') or 0:.2f}×",
            }
        )
    if not rows:
        say("no model trained yet: run `shoplake train`")
        return
    print_table(rows, list(rows[0]))


@models_app.command("show")
def show_model(
    ctx: typer.Context,
    version: Annotated[str | None, typer.Argument(help="A version; default: promoted.")] = None,
    output: Output = "text",
) -> None:
    """A version's metrics, settings and the lakehouse snapshots it was trained on."""
    info = platform(ctx).model(version)
    if output == "json":
        emit_json(info.as_dict())
        return
    summary = info.summary
    out.print(f"[bold]{info.version}[/bold]{' (promoted)' if info.promoted else ''}  {info.path}")
    out.print(f"created {summary.get('created_at')}; time cutoff {summary.get('cutoff')}")
    out.print("counts: " + ", ".join(f"{k} {v:,}" for k, v in summary.get("counts", {}).items()))
    out.print("config: " + ", ".join(f"{k}={v}" for k, v in info.config.items()))
    out.print("snapshots: " + ", ".join(f"{k}@{v}" for k, v in info.snapshots.items()))
    _metrics_table(info.metrics, int(summary.get("k", 10)))


@models_app.command("promote")
def promote_model(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="The version to serve.")]
) -> None:
    """Serve a version: rewrite the gold ML tables from it, then point serving at it."""
    published = platform(ctx).promote(version)
    tables = ", ".join(f"{name} ({plural(rows, 'row')})" for name, rows in published.items())
    out.print(f"promoted {version}: {tables}")


def recommend(
    ctx: typer.Context,
    customer: Annotated[int, typer.Argument(help="A customer number.")],
    limit: Limit = None,
    output: Output = "text",
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="A live session id: recommend from what it is browsing now (from the online "
            "store; falls back to the customer's list when the session is unknown there).",
        ),
    ] = None,
) -> None:
    """The promoted model's top products for a customer (new customers: popular products)."""
    result = platform(ctx).recommend(customer, limit, session_id=session)
    if output == "json":
        emit_json(result.as_dict())
        return
    say(f"customer {customer} · model {result.model_version} · {result.strategy}")
    _products_table(result.items, "score")


def similar(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="A product code.")],
    limit: Limit = None,
    output: Output = "text",
) -> None:
    """Products nearest to a product by the promoted model's item embeddings (cosine)."""
    items = platform(ctx).similar(product, limit)
    if output == "json":
        emit_json([vars(item) for item in items])
        return
    _products_table(items, "similarity")


def _products_table(items: list[ScoredProduct], score: str) -> None:
    rows = [
        {
            "rank": rank,
            "product_code": item.product_code,
            "product_name": item.product_name,
            "product_line": item.product_line,
            score: f"{item.score:.4f}",
        }
        for rank, item in enumerate(items, start=1)
    ]
    print_table(rows, ["rank", "product_code", "product_name", "product_line", score])


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(train)
    app.add_typer(models_app, name="models", rich_help_panel=PANEL)
    app.command(rich_help_panel=PANEL)(recommend)
    app.command(rich_help_panel=PANEL)(similar)
