"""`transform`, `check` and `lineage` from the command line."""

from __future__ import annotations

import json

import pyarrow as pa

from shoplake.platform import Platform
from tests.cli.test_cli import run
from tests.ingest.conftest import generated_source, shop  # noqa: F401


def test_transform_check_and_a_corrupted_published_table(shop: Platform) -> None:  # noqa: F811
    args = ("--data-dir", str(shop.settings.data_dir))
    assert shop.ingest().ok
    built = run(*args, "transform", "--output", "json")
    assert built.returncode == 0, built.stderr
    models = {m["model"]: m for m in json.loads(built.stdout)["models"]}
    assert models["gold.fact_orders"]["status"] == "published"
    assert (
        models["gold.fact_orders"]["rows"]
        == shop.query("SELECT count(*) AS n FROM silver.orderdetails").table.column("n")[0].as_py()
    )

    checked = run(*args, "check")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip().splitlines()[-1].endswith("checks passed")
    # Rows come by layer (silver, gold, then the ml models), table, then check name.
    as_json = json.loads(run(*args, "check", "--output", "json").stdout)
    listed = [(r["model"], r["check"]) for r in as_json]
    folders = {target: model.folder for target, model in shop.project().models.items()}
    rank = {"silver": 0, "gold": 1, "ml": 2}
    assert listed == sorted(listed, key=lambda mc: (rank[folders[mc[0]]], mc[0], mc[1]))
    assert listed[0][0] == "silver.customers" and listed[-1][0] == "gold.ratings_for_ml"

    # Another writer appends an order whose customer does not exist straight into silver.
    orders = shop.catalog.load_table("silver.orders")
    row = orders.scan(limit=1).to_arrow().to_pylist()[0] | {
        "order_number": 999_999,
        "customer_number": 424_242,
    }
    orders.append(pa.Table.from_pylist([row], schema=orders.scan(limit=1).to_arrow().schema))
    failed = run(*args, "check", "silver.orders", "--output", "json")
    assert failed.returncode == 1
    bad = [r for r in json.loads(failed.stdout) if r["status"] != "pass"]
    assert [(r["check"], r["sample"]) for r in bad] == [
        ("relationship customer_number → silver.customers.customer_number", "424242")
    ]


def test_lineage_of_the_fact_table() -> None:
    result = run("lineage", "fact_orders")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "gold.fact_orders (table)"
    assert "silver.orderdetails" in lines[1] and "gold.dim_customers" in lines[1]
    assert lines[2] == "downstream: gold.sales_by_month"
    unknown = run("lineage", "nothing")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: no model 'nothing' (models: ")
