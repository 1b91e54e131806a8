"""The scheduled stream-maintenance job compacts bronze.events."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from dagster import DagsterInstance

from shoplake.orchestrate.automation import MAINTAIN_JOB
from shoplake.orchestrate.definitions import build_definitions
from shoplake.platform import Platform


def test_the_maintenance_job_compacts_bronze_events(tmp_path: Path) -> None:
    shop = Platform(data_dir=tmp_path)
    job = build_definitions(shop).resolve_job_def(MAINTAIN_JOB)
    assert job.execute_in_process(instance=DagsterInstance.ephemeral()).success  # no table yet

    shop.catalog.create_namespace_if_not_exists("bronze")
    batch = pa.table({"event_id": ["a", "b"], "session_id": ["s1", "s2"]})
    events = shop.catalog.create_table("bronze.events", schema=batch.schema)
    for _ in range(3):  # three micro-batch commits: three small files
        events.append(batch)
    assert len(events.inspect.files()) == 3

    assert job.execute_in_process(instance=DagsterInstance.ephemeral()).success
    events = shop.catalog.load_table("bronze.events")
    assert len(events.inspect.files()) == 1
    assert events.scan().to_arrow().num_rows == 6
