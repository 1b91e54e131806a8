"""Sales figures: KPIs, revenue by month and by product line, top products."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    pass

from shoplake.serve.routes.analytics.common import (
    FACTS,
    PlatformDep,
    lakehouse_rows,
    money,
)

router = APIRouter()


class Kpis(BaseModel):
    """Headline figures over every order line in ``gold.fact_orders``."""

    revenue: float = Field(description="sum(order_amount)")
    orders: int = Field(description="distinct order numbers")
    average_order_value: float = Field(description="revenue / orders, rounded to the cent")
    order_lines: int
    units: int = Field(description="sum(quantity_ordered)")
    first_order_date: dt.date | None = None
    last_order_date: dt.date | None = None
    note: str | None = None


class MonthRevenue(BaseModel):
    month: dt.date = Field(description="first day of the month")
    revenue: float
    orders: int
    units: int


class RevenueByMonth(BaseModel):
    months: list[MonthRevenue]
    note: str | None = None


class LineRevenue(BaseModel):
    product_line: str
    revenue: float
    orders: int
    units: int
    share: float = Field(description="this line's part of total revenue, 0..1")


class RevenueByProductLine(BaseModel):
    lines: list[LineRevenue]
    note: str | None = None


class ProductRevenue(BaseModel):
    product_code: str
    product_name: str
    product_line: str
    revenue: float
    units: int
    orders: int


class TopProducts(BaseModel):
    products: list[ProductRevenue]
    note: str | None = None


@router.get("/kpis", summary="Revenue, orders and average order value")
def kpis(platform: PlatformDep) -> Kpis:
    rows, note = lakehouse_rows(
        platform,
        f"""
        SELECT
            sum(order_amount) AS revenue,
            count(DISTINCT order_number) AS orders,
            count(*) AS order_lines,
            coalesce(sum(quantity_ordered), 0) AS units,
            min(order_date) AS first_order_date,
            max(order_date) AS last_order_date
        FROM {FACTS}
        """,
    )
    if not rows:
        return Kpis(revenue=0, orders=0, average_order_value=0, order_lines=0, units=0, note=note)
    row = rows[0]
    revenue, orders = row["revenue"] or Decimal(0), int(row["orders"])
    average = revenue / orders if orders else Decimal(0)
    return Kpis(
        revenue=money(revenue),
        orders=orders,
        average_order_value=money(average.quantize(Decimal("0.01"))),
        order_lines=int(row["order_lines"]),
        units=int(row["units"]),
        first_order_date=row["first_order_date"],
        last_order_date=row["last_order_date"],
        note=note if orders else "gold.fact_orders has no order lines yet",
    )


@router.get("/revenue_by_month", summary="Revenue, orders and units per calendar month")
def revenue_by_month(platform: PlatformDep) -> RevenueByMonth:
    # From the facts rather than gold.sales_by_month: an order spanning product lines or
    # countries is one order, which the mart's per-line counts cannot add up to.
    rows, note = lakehouse_rows(
        platform,
        f"""
        SELECT
            CAST(date_trunc('month', order_date) AS DATE) AS month,
            sum(order_amount) AS revenue,
            count(DISTINCT order_number) AS orders,
            sum(quantity_ordered) AS units
        FROM {FACTS}
        GROUP BY 1
        ORDER BY 1
        """,
    )
    months = [
        MonthRevenue(
            month=r["month"], revenue=money(r["revenue"]), orders=r["orders"], units=r["units"]
        )
        for r in rows
    ]
    return RevenueByMonth(months=months, note=note)


@router.get("/revenue_by_product_line", summary="Revenue per product line, largest first")
def revenue_by_product_line(platform: PlatformDep) -> RevenueByProductLine:
    rows, note = lakehouse_rows(
        platform,
        f"""
        SELECT
            coalesce(p.product_line, 'unknown') AS product_line,
            sum(f.order_amount) AS revenue,
            count(DISTINCT f.order_number) AS orders,
            sum(f.quantity_ordered) AS units
        FROM {FACTS} AS f
        LEFT JOIN gold.dim_products AS p ON p.product_key = f.product_key
        GROUP BY 1
        ORDER BY revenue DESC, product_line
        """,
    )
    total = sum((r["revenue"] for r in rows), Decimal(0))
    lines = [
        LineRevenue(
            product_line=r["product_line"],
            revenue=money(r["revenue"]),
            orders=r["orders"],
            units=r["units"],
            share=round(float(r["revenue"] / total), 4) if total else 0.0,
        )
        for r in rows
    ]
    return RevenueByProductLine(lines=lines, note=note)


@router.get("/top_products", summary="The products with the most revenue")
def top_products(
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=100, description="how many products")] = 10,
) -> TopProducts:
    rows, note = lakehouse_rows(
        platform,
        f"""
        SELECT
            p.product_code,
            p.product_name,
            p.product_line,
            sum(f.order_amount) AS revenue,
            sum(f.quantity_ordered) AS units,
            count(DISTINCT f.order_number) AS orders
        FROM {FACTS} AS f
        INNER JOIN gold.dim_products AS p ON p.product_key = f.product_key
        GROUP BY 1, 2, 3
        ORDER BY revenue DESC, p.product_code
        LIMIT {int(limit)}
        """,
    )
    products = [ProductRevenue(**(r | {"revenue": money(r["revenue"])})) for r in rows]
    return TopProducts(products=products, note=note)
