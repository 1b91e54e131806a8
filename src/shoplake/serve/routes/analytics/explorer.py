"""The recommendation explorer: a customer's history, recommendations and why."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from shoplake.ml.errors import ModelError
from shoplake.platform import Platform

if TYPE_CHECKING:
    from shoplake.ml.serving import ScoredProduct

from shoplake.serve.routes.analytics.common import (
    FACTS,
    REASONS_PER_ITEM,
    PlatformDep,
    in_list,
    lakehouse_rows,
    money,
)

router = APIRouter()


class CustomerSummary(BaseModel):
    customer_number: int
    city: str | None = None
    country: str | None = None
    revenue: float
    orders: int


class Customers(BaseModel):
    customers: list[CustomerSummary]
    note: str | None = None


class PurchasedProduct(BaseModel):
    product_code: str
    product_name: str
    product_line: str
    units: int
    revenue: float
    orders: int
    last_ordered: dt.date | None = None


class LineShare(BaseModel):
    product_line: str
    revenue: float
    share: float = Field(description="part of the customer's revenue, 0..1")


class Reason(BaseModel):
    """A product the customer bought that the model places close to the recommendation."""

    product_code: str
    product_name: str
    similarity: float = Field(description="cosine similarity of the item embeddings")


class ExplainedItem(BaseModel):
    rank: int
    product_code: str
    product_name: str
    product_line: str
    score: float
    line_share: float = Field(description="share of the customer's history in this line")
    because: list[Reason]


class CustomerExplorer(BaseModel):
    customer_number: int
    city: str | None = None
    country: str | None = None
    revenue: float
    orders: int
    history: list[PurchasedProduct]
    line_shares: list[LineShare]
    model_version: str | None = None
    strategy: str | None = Field(default=None, description="als | content | popularity")
    recommendations: list[ExplainedItem]
    note: str | None = None


@router.get("/customers", summary="Customers with the most revenue (for the explorer)")
def customers(
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Customers:
    rows, note = lakehouse_rows(
        platform,
        f"""
        WITH per_customer AS (
            SELECT
                c.customer_number,
                sum(f.order_amount) AS revenue,
                count(DISTINCT f.order_number) AS orders
            FROM {FACTS} AS f
            INNER JOIN gold.dim_customers AS c ON c.customer_key = f.customer_key
            GROUP BY 1
        ),
        latest AS (
            SELECT customer_number, city, country
            FROM gold.dim_customers
            QUALIFY row_number() OVER (PARTITION BY customer_number ORDER BY valid_from DESC) = 1
        )
        SELECT p.customer_number, l.city, l.country, p.revenue, p.orders
        FROM per_customer AS p
        LEFT JOIN latest AS l ON l.customer_number = p.customer_number
        ORDER BY p.revenue DESC, p.customer_number
        LIMIT {int(limit)}
        """,
    )
    found = [CustomerSummary(**(r | {"revenue": money(r["revenue"])})) for r in rows]
    return Customers(customers=found, note=note)


def _history(
    platform: Platform, customer_number: int
) -> tuple[list[PurchasedProduct], int, str | None]:
    """What the customer bought, per product (most revenue first), and their order count."""
    rows, note = lakehouse_rows(
        platform,
        f"""
        WITH lines AS (
            SELECT f.*
            FROM {FACTS} AS f
            INNER JOIN gold.dim_customers AS c ON c.customer_key = f.customer_key
            WHERE c.customer_number = {int(customer_number)}
        )
        SELECT
            p.product_code,
            p.product_name,
            p.product_line,
            sum(l.quantity_ordered) AS units,
            sum(l.order_amount) AS revenue,
            count(DISTINCT l.order_number) AS orders,
            max(l.order_date) AS last_ordered,
            (SELECT count(DISTINCT order_number) FROM lines) AS customer_orders
        FROM lines AS l
        INNER JOIN gold.dim_products AS p ON p.product_key = l.product_key
        GROUP BY 1, 2, 3
        ORDER BY revenue DESC, p.product_code
        """,
    )
    orders = int(rows[0]["customer_orders"]) if rows else 0
    history = [
        PurchasedProduct(
            **{k: v for k, v in r.items() if k != "customer_orders"}
            | {"revenue": money(r["revenue"])}
        )
        for r in rows
    ]
    return history, orders, note


def _line_shares(history: list[PurchasedProduct]) -> list[LineShare]:
    by_line: dict[str, float] = {}
    for item in history:
        by_line[item.product_line] = by_line.get(item.product_line, 0.0) + item.revenue
    total = sum(by_line.values())
    ranked = sorted(by_line.items(), key=lambda pair: (-pair[1], pair[0]))
    return [
        LineShare(product_line=line, revenue=round(revenue, 2), share=round(revenue / total, 4))
        for line, revenue in ranked
        if total > 0
    ]


def _embeddings(platform: Platform, codes: set[str]) -> dict[str, list[float]]:
    """Item embeddings of the promoted model for ``codes`` (none before training)."""
    rows, _ = lakehouse_rows(
        platform,
        "SELECT product_code, embedding FROM gold.item_embeddings "
        f"WHERE product_code IN ({in_list(codes)})",
    )
    return {r["product_code"]: r["embedding"] for r in rows if r["embedding"]}


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _reasons(
    recommended: str, history: list[PurchasedProduct], vectors: dict[str, list[float]]
) -> list[Reason]:
    """The purchased products closest to ``recommended`` in the model's embedding space."""
    target = vectors.get(recommended)
    if target is None:
        return []
    scored = [
        Reason(
            product_code=item.product_code,
            product_name=item.product_name,
            similarity=round(_cosine(target, vectors[item.product_code]), 4),
        )
        for item in history
        if item.product_code in vectors
    ]
    scored.sort(key=lambda reason: (-reason.similarity, reason.product_code))
    return scored[:REASONS_PER_ITEM]


@router.get(
    "/customers/{customer_number}",
    summary="A customer's purchases, recommendations and why each was recommended",
)
def customer(
    platform: PlatformDep,
    customer_number: Annotated[int, Path(ge=0, le=2**31 - 1)],
    limit: Annotated[int, Query(ge=1, le=50, description="how many recommendations")] = 10,
) -> CustomerExplorer:
    notes: list[str] = []
    profile, note = lakehouse_rows(
        platform,
        "SELECT city, country FROM gold.dim_customers "
        f"WHERE customer_number = {int(customer_number)} ORDER BY valid_from DESC LIMIT 1",
    )
    if note:
        notes.append(note)
    elif not profile:
        notes.append(f"customer {customer_number} is not in gold.dim_customers")
    history, orders, note = _history(platform, customer_number)
    if note and note not in notes:
        notes.append(note)

    version: str | None = None
    strategy: str | None = None
    recommended: list[ScoredProduct] = []
    try:
        result = platform.recommend(customer_number, limit)
        version, strategy, recommended = result.model_version, result.strategy, result.items
    except ModelError as exc:
        notes.append(str(exc))

    shares = _line_shares(history)
    share_of = {s.product_line: s.share for s in shares}
    codes = {i.product_code for i in history} | {i.product_code for i in recommended}
    vectors = _embeddings(platform, codes)
    explained = [
        ExplainedItem(
            rank=rank,
            product_code=item.product_code,
            product_name=item.product_name,
            product_line=item.product_line,
            score=round(item.score, 6),
            line_share=share_of.get(item.product_line, 0.0),
            because=_reasons(item.product_code, history, vectors),
        )
        for rank, item in enumerate(recommended, start=1)
    ]
    return CustomerExplorer(
        customer_number=customer_number,
        city=profile[0]["city"] if profile else None,
        country=profile[0]["country"] if profile else None,
        revenue=round(sum(i.revenue for i in history), 2),
        orders=orders,
        history=history,
        line_shares=shares,
        model_version=version,
        strategy=strategy,
        recommendations=explained,
        note="; ".join(notes) or None,
    )
