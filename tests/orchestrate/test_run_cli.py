"""`shoplake run` executes the graph through Dagster and keeps the run history in the data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shoplake.orchestrate.execute import open_instance
from shoplake.platform import Platform


def shoplake(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPLAKE_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_run_materializes_the_graph_and_records_it(generated: Path, tmp_path: Path) -> None:
    shutil.copy(generated, tmp_path / "source.db")
    result = shoplake(tmp_path, "run")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(maxsplit=1) for line in result.stdout.splitlines())
    assert lines["bronze.orders"] == "ok"
    assert lines["silver.orders"] == "ok contract pass"
    assert lines["gold.fact_orders"] == "ok contract pass"
    assert lines["ml.model"] == lines["gold.recommendations"] == "ok"
    assert lines["silver.sessions"] == "skipped"  # no events streamed yet
    order = list(lines)
    assert order[0].startswith("bronze.") and order[-1].startswith("ml.")
    assert "success" in result.stderr

    shop = Platform(data_dir=tmp_path)
    (facts,) = shop.query("SELECT count(*) AS n FROM gold.fact_orders").table.to_pylist()
    (details,) = shop.query("SELECT count(*) AS n FROM silver.orderdetails").table.to_pylist()
    assert facts["n"] == details["n"] > 0

    again = shoplake(tmp_path, "run", "--select", "silver.orders+", "--output", "json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["success"]
    outcomes = {a["asset"]: a["outcome"] for a in document["assets"]}
    assert outcomes["gold.fact_orders"] == "materialized"
    assert "silver.customers" not in outcomes
    with open_instance(tmp_path / "dagster") as instance:
        runs = instance.get_runs()
        assert len(runs) == 2
        assert all(r.is_success for r in runs)
        assert document["run_id"] in {r.run_id for r in runs}


def test_run_names_an_unknown_asset_in_one_line(tmp_path: Path) -> None:
    result = shoplake(tmp_path, "run", "--select", "silver.nope")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no asset matches silver.nope: name a table (silver.orders), optionally with + "
        "for its downstream, or a group (ingest, transform, ml)"
    ]
