"""`shoplake run` on a ClassicModels source with no ratings table (as a MySQL copy has): the
whole graph, the recommender included, materializes; nothing waits for ratings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shoplake.orchestrate.definitions import build_definitions
from shoplake.orchestrate.execute import execute, open_instance
from tests.orchestrate.conftest import fast_platform


def test_the_graph_runs_without_a_ratings_table(tmp_path: Path) -> None:
    shop = fast_platform(tmp_path)
    shop.load_classicmodels()
    with sqlite3.connect(tmp_path / "source.db") as con:
        con.execute("DROP TABLE ratings")
    with open_instance(shop.settings.dagster_home) as instance:
        summary = execute(build_definitions(shop), instance)
    assert summary.success
    outcomes = {a.asset: a.outcome for a in summary.assets}
    waiting = ("silver.sessions", "silver.supplier_products", "silver.supplier_reviews")
    assert [outcomes.pop(t) for t in (*waiting, "gold.product_supplier")] == ["not run"] * 4
    assert set(outcomes.values()) == {"materialized"}, outcomes
    assert {"bronze.ratings", "silver.ratings", "gold.interactions", "ml.model"} <= set(outcomes)
    assert all(summary.contracts.values()), summary.contracts
    assert not shop.catalog.table_exists("bronze.ratings")
    (row,) = shop.query("SELECT count(*) AS n FROM gold.interactions").table.to_pylist()
    assert row["n"] == 2472
    assert len(shop.recommend(103).items) == 10
