"""Transient failures are retried with backoff; a permanent one stops only its branch."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from dagster import AssetKey, DagsterEventType

from shoplake.orchestrate.definitions import build_definitions
from shoplake.orchestrate.execute import execute, open_instance
from tests.orchestrate.conftest import fast_platform

RETRY = DagsterEventType.STEP_UP_FOR_RETRY


def test_a_source_down_for_the_first_attempt_succeeds_through_retries(
    generated: Path, tmp_path: Path
) -> None:
    shop = fast_platform(tmp_path)
    source = tmp_path / "source.db"
    away = tmp_path / "source.db.away"
    shutil.copy(generated, away)  # the source file is missing: connections are refused
    open_instance(shop.settings.dagster_home).dispose()  # storage exists before both open it

    def restore_after_the_first_failure() -> None:
        deadline = time.monotonic() + 60
        with open_instance(shop.settings.dagster_home) as watcher:
            while time.monotonic() < deadline:
                runs = watcher.get_runs(limit=1)
                if runs and watcher.all_logs(runs[0].run_id, of_type=RETRY):
                    break
                time.sleep(0.05)
        away.rename(source)

    thread = threading.Thread(target=restore_after_the_first_failure)
    thread.start()
    try:
        with open_instance(shop.settings.dagster_home) as instance:
            summary = execute(build_definitions(shop), instance, ["bronze.offices"])
            retries = instance.all_logs(summary.run_id, of_type=RETRY)
    finally:
        thread.join()
    assert summary.success
    assert [(a.asset, a.outcome) for a in summary.assets] == [("bronze.offices", "materialized")]
    assert len(retries) >= 1
    assert "does not exist" in str(retries[0].dagster_event.event_specific_data)
    (row,) = shop.query("SELECT count(*) AS n FROM bronze.offices").table.to_pylist()
    assert row["n"] > 0


def test_a_permanent_failure_stops_only_the_affected_branch(
    generated: Path, tmp_path: Path
) -> None:
    shop = fast_platform(tmp_path)
    shutil.copy(generated, tmp_path / "source.db")
    with sqlite3.connect(tmp_path / "source.db") as con:
        con.execute("ALTER TABLE products RENAME TO products_gone")  # bronze.products cannot load
    selectors = ["ingest", "silver.offices+", "silver.productlines+"]
    with open_instance(shop.settings.dagster_home) as instance:
        summary = execute(build_definitions(shop), instance, selectors)
        retries = instance.all_logs(summary.run_id, of_type=RETRY)

        def materialized(table: str) -> bool:
            key = AssetKey(table.split("."))
            return instance.get_latest_materialization_event(key) is not None

        assert not summary.success
        assert not retries  # a missing table is not transient: no retry
        outcome = {a.asset: a for a in summary.assets}
        assert outcome["bronze.products"].outcome == "failed"
        assert "products" in outcome["bronze.products"].error
        upstream = ["bronze.offices", "bronze.productlines", "silver.offices", "gold.dim_offices"]
        upstream += ["silver.productlines", "bronze.customers", "bronze.orders"]
        downstream = ["silver.products", "gold.dim_products", "silver.orderdetails"]
        assert all(materialized(t) for t in upstream), upstream
        assert not any(materialized(t) for t in downstream), downstream
        assert {outcome[t].outcome for t in downstream} == {"not run"}


def test_a_source_that_stays_down_fails_with_its_one_line_error(tmp_path: Path) -> None:
    shop = fast_platform(tmp_path)
    shop.settings.orchestrate.max_retries = 2
    with open_instance(shop.settings.dagster_home) as instance:
        summary = execute(build_definitions(shop), instance, ["bronze.offices+"])
        retries = instance.all_logs(summary.run_id, of_type=RETRY)
    assert not summary.success
    assert len(retries) == 2
    outcome = {a.asset: a for a in summary.assets}
    assert outcome["bronze.offices"].outcome == "failed"
    assert outcome["bronze.offices"].error.startswith(
        f"source database {tmp_path / 'source.db'} does not exist"
    )
    assert outcome["silver.offices"].outcome == "not run"


def test_training_that_cannot_succeed_is_not_retried(tmp_path: Path) -> None:
    """Training on an empty lakehouse fails the same way every time: one attempt, its line."""
    shop = fast_platform(tmp_path)
    with open_instance(shop.settings.dagster_home) as instance:
        summary = execute(build_definitions(shop), instance, ["ml"])
        retries = instance.all_logs(summary.run_id, of_type=RETRY)
    assert not summary.success
    assert retries == []
    outcome = {a.asset: a for a in summary.assets}
    assert outcome["ml.model"].outcome == "failed"
    assert outcome["ml.model"].error == (
        "gold.interactions has no data yet: run `shoplake ingest` and `shoplake transform`"
    )
