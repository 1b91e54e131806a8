"""The demo's sentences count in the singular when a count is 1 (no "1 customers deleted")."""

from __future__ import annotations

from shoplake.cli import main  # noqa: F401 - registers the commands before demo is imported
from shoplake.cli.demo import _print_transform, change_summary
from shoplake.cli.output import out
from shoplake.orchestrate.execute import AssetOutcome, RunSummary


def test_simulated_changes_read_in_the_singular_and_the_plural() -> None:
    changes = {
        "customers_deleted": 1,
        "orders_inserted": 0,
        "orderdetails_inserted": 1,
        "payments_deleted": 2,
        "credit_limits_changed": 1,
        "prices_changed": 3,
        "ratings_updated": 1_200,
    }
    assert change_summary(changes) == (
        "1 customer deleted, 1 order line inserted, 2 payments deleted, 1 credit limit changed, "
        "3 prices changed, 1,200 ratings updated"
    )


def test_one_model_one_row_one_contract_read_in_the_singular() -> None:
    summary = RunSummary(
        run_id="r1",
        success=True,
        assets=[
            AssetOutcome("silver.orders", "materialized", rows=1),
            AssetOutcome("gold.fact_orders", "materialized", rows=2),
            AssetOutcome("gold.dim_customers", "materialized", rows=1_000),
        ],
        contracts={"silver.orders": True, "gold.fact_orders": True, "gold.dim_customers": True},
    )
    with out.capture() as captured:
        _print_transform(summary)
    assert captured.get().splitlines() == [
        "  silver: 1 of 1 model (orders) — 1 row, 1 contract passed",
        "  gold: 2 of 2 models (fact_orders, dim_customers) — 1,002 rows, 2 contracts passed",
    ]
