"""`assess` says what is true: model timings from the Dagster run history that `shoplake run`
and the demo write, and the warehouse's own size apart from the disk's usage."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from shoplake.ops.assess import assess
from shoplake.ops.assess.dagster_runs import step_timings
from shoplake.platform import Platform


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """A lakehouse with one table, and no inherited settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPLAKE_CONFIG", str(tmp_path / "absent.toml"))
    platform = Platform(data_dir=tmp_path / "data")
    data = pa.table({"order_number": pa.array(range(100), pa.int64())})
    platform.catalog.create_table("silver.orders", schema=data.schema).append(data)
    return platform


def _run_through_dagster(platform: Platform) -> str:
    """Two assets, materialized by Dagster in the instance `shoplake run` uses."""
    from dagster import AssetKey, Definitions, asset

    from shoplake.orchestrate.execute import open_instance

    @asset(key=AssetKey(["silver", "orders"]))
    def orders() -> None:
        time.sleep(0.3)

    @asset(key=AssetKey(["gold", "fact_orders"]), deps=[orders])
    def fact_orders() -> None:
        time.sleep(0.05)

    job = Definitions(assets=[orders, fact_orders]).resolve_implicit_global_asset_job_def()
    with open_instance(platform.settings.dagster_home) as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_model_timings_come_from_the_dagster_history(shop: Platform) -> None:
    before = {f.id: f for f in assess(shop.settings, ["performance"]).findings}
    assert before["file-sizes"].title == "1 data file in 1 table by size"  # not "1 tables"
    assert before["model-timings-unrecorded"].evidence["dagster history"] == (
        f"none ({shop.settings.dagster_home} does not exist)"
    )
    run_id = _run_through_dagster(shop)

    timings = step_timings(shop.settings.dagster_home)
    assert [t.step for t in timings] == ["silver.orders", "gold.fact_orders"]
    assert timings[0].seconds >= 0.3 and 0.05 <= timings[1].seconds < timings[0].seconds
    assert {t.run_id for t in timings} == {run_id}

    findings = {f.id: f for f in assess(shop.settings, ["performance"]).findings}
    assert "model-timings-unrecorded" not in findings
    slowest = findings["slowest-models"]
    assert slowest.title == "the 2 slowest model steps recorded"
    assert list(slowest.evidence) == ["silver.orders", "gold.fact_orders"]
    assert f"(run {run_id[:8]}, " in slowest.evidence["silver.orders"]


def test_the_warehouse_size_is_its_files_and_disk_usage_is_named(shop: Platform) -> None:
    from urllib.parse import urlparse

    root = Path(urlparse(shop.settings.warehouse).path)
    (root / "extra").mkdir()
    (root / "extra" / "blob.bin").write_bytes(b"x" * 3 * 1024 * 1024)  # 3 MiB of files
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    report = assess(shop.settings, ["scalability"])
    (disk,) = [p for p in report.passed if p.check.startswith("local disk warehouse")]
    assert disk.check == f"local disk warehouse ({root}, {total / 1024 / 1024:.1f} MiB of files)"
    assert disk.detail.startswith("disk usage ")
