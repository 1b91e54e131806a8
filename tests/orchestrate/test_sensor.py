"""The sensor requests a transform of what reads a bronze table when it gets a new snapshot."""

from __future__ import annotations

import shutil
from pathlib import Path

from dagster import DagsterInstance, RunRequest, SensorResult, SkipReason, build_sensor_context

from shoplake.orchestrate.assets import key_of
from shoplake.orchestrate.automation import SNAPSHOT_SENSOR, TRANSFORM_JOB
from shoplake.orchestrate.definitions import RESOURCE_KEY, build_definitions
from shoplake.platform import Platform


def test_a_new_ingest_launches_the_downstream_transform(generated: Path, tmp_path: Path) -> None:
    shop = Platform(data_dir=tmp_path)
    shutil.copy(generated, tmp_path / "source.db")
    defs = build_definitions(shop)
    sensor = defs.resolve_sensor_def(SNAPSHOT_SENSOR)
    resources = {RESOURCE_KEY: defs.resources[RESOURCE_KEY]}

    def evaluate(cursor: str | None) -> SensorResult | SkipReason:
        context = build_sensor_context(cursor=cursor, resources=resources)
        return sensor(context)

    nothing = evaluate(None)
    assert isinstance(nothing, SkipReason)  # no bronze table yet

    assert shop.ingest().ok
    first = evaluate(None)
    assert isinstance(first, SensorResult)
    (request,) = first.run_requests or []
    assert isinstance(request, RunRequest)
    assert sensor.job_name == TRANSFORM_JOB
    project = shop.project()
    # Not the models of bronze tables that never landed (events, the supplier API's tables).
    never_landed = {"silver.sessions", "silver.supplier_products", "silver.supplier_reviews"}
    everything_from_bronze = {key_of(t) for t in project.order if t not in never_landed}
    assert set(request.asset_selection or []) == everything_from_bronze

    job = defs.resolve_job_def(TRANSFORM_JOB)
    launched = job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=list(request.asset_selection or [])
    )
    assert launched.success
    assert key_of("gold.fact_orders") in {
        e.asset_key for e in launched.get_asset_materialization_events()
    }
    (before,) = shop.query("SELECT count(*) AS n FROM gold.fact_orders").table.to_pylist()

    assert isinstance(evaluate(first.cursor), SkipReason)  # same snapshots: nothing to do

    shop.simulate(orders=5, seed=7)
    assert shop.ingest(["orders", "orderdetails"]).ok
    second = evaluate(first.cursor)
    assert isinstance(second, SensorResult)
    (request,) = second.run_requests or []
    changed = ["bronze.orderdetails", "bronze.orders"]
    expected = {key_of(t) for name in changed for t in project.downstream(name)}
    assert set(request.asset_selection or []) == expected
    assert key_of("gold.fact_orders") in expected
    assert key_of("silver.customers") not in expected
    assert request.tags["shoplake/changed"] == ",".join(changed)
    assert request.run_key != first.run_requests[0].run_key  # type: ignore[index]
    relaunched = job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=list(request.asset_selection or [])
    )
    assert relaunched.success
    (after,) = shop.query("SELECT count(*) AS n FROM gold.fact_orders").table.to_pylist()
    assert after["n"] > before["n"]  # the simulated orders reached gold
