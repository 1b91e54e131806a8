"""When the graph runs: jobs, schedules (cron strings from settings), the new-snapshot sensor
and the stream-maintenance job."""

import json
from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    job,
    op,
    sensor,
)

from shoplake.orchestrate.assets import EVENTS_TABLE, INGEST, ML, TRANSFORM, key_of
from shoplake.orchestrate.resources import ShoplakeResource

if TYPE_CHECKING:
    from dagster import JobDefinition, UnresolvedAssetJobDefinition

    from shoplake.config import OrchestrateSettings
    from shoplake.transform.project import Project

PIPELINE_JOB, TRANSFORM_JOB, TRAIN_JOB, MAINTAIN_JOB = (
    "ingest_transform",
    "transform",
    "train",
    "maintain_events",
)
SNAPSHOT_SENSOR = "bronze_snapshots"

pipeline_job = define_asset_job(PIPELINE_JOB, AssetSelection.groups(INGEST, TRANSFORM))
transform_job = define_asset_job(TRANSFORM_JOB, AssetSelection.groups(TRANSFORM))
train_job = define_asset_job(TRAIN_JOB, AssetSelection.groups(ML))


@op
def compact_events(context: OpExecutionContext, shoplake: ShoplakeResource) -> None:
    """Compact ``bronze.events``, expire its old snapshots and remove orphaned files."""
    platform = shoplake.platform()
    if not platform.catalog.table_exists(EVENTS_TABLE):
        context.log.info(f"{EVENTS_TABLE} does not exist yet: nothing to maintain")
        return
    for result in platform.maintain([EVENTS_TABLE]):
        context.log.info(str(result))


@job(name=MAINTAIN_JOB, description="Stream maintenance of bronze.events.")
def maintain_job() -> None:
    compact_events()


def schedules(config: "OrchestrateSettings") -> list[ScheduleDefinition]:
    """Ingest + transform, training and stream maintenance, each on its cron string."""
    return [
        ScheduleDefinition(
            name="hourly_pipeline", job=pipeline_job, cron_schedule=config.pipeline_cron
        ),
        ScheduleDefinition(name="daily_train", job=train_job, cron_schedule=config.train_cron),
        ScheduleDefinition(
            name="stream_maintenance", job=maintain_job, cron_schedule=config.maintain_cron
        ),
    ]


def bronze_snapshots(tables: list[str], shoplake: ShoplakeResource) -> dict[str, int]:
    """The current snapshot id of each bronze table that exists."""
    catalog = shoplake.platform().catalog
    found = {}
    for table in tables:
        if catalog.table_exists(table):
            snapshot = catalog.load_table(table).current_snapshot()
            if snapshot is not None:
                found[table] = snapshot.snapshot_id
    return found


def snapshot_sensor(project: "Project") -> SensorDefinition:
    """Request the models downstream of every bronze table whose snapshot changed since the
    last evaluation (the cursor holds the snapshot ids last seen)."""
    bronze = sorted(
        {t for m in project.models.values() for t in m.upstream if t.startswith("bronze.")}
    )

    @sensor(
        name=SNAPSHOT_SENSOR,
        job=transform_job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Builds what reads a bronze table when it gets a new Iceberg snapshot.",
    )
    def _sensor(
        context: SensorEvaluationContext, shoplake: ShoplakeResource
    ) -> SensorResult | SkipReason:
        seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        current = bronze_snapshots(bronze, shoplake)
        changed = sorted(t for t, snapshot in current.items() if seen.get(t) != snapshot)
        if not changed:
            return SkipReason("no bronze table has a new snapshot")
        targets = sorted({d for t in changed for d in project.downstream(t)})
        run_key = ",".join(f"{t}@{current[t]}" for t in changed)
        request = RunRequest(
            run_key=run_key,
            asset_selection=[key_of(t) for t in targets],
            tags={"shoplake/changed": ",".join(changed)},
        )
        return SensorResult(run_requests=[request], cursor=json.dumps(current, sort_keys=True))

    return _sensor


def jobs() -> "list[JobDefinition | UnresolvedAssetJobDefinition]":
    return [pipeline_job, transform_job, train_job, maintain_job]
