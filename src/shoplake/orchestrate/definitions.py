"""Build the Dagster ``Definitions`` of one shoplake installation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import Backoff, Definitions, RetryPolicy

from shoplake.orchestrate.assets import build_assets
from shoplake.orchestrate.automation import jobs, schedules, snapshot_sensor
from shoplake.orchestrate.resources import environment_resource

if TYPE_CHECKING:
    from shoplake.platform import Platform

RESOURCE_KEY = "shoplake"


def build_definitions(platform: Platform, environment: str = "local") -> Definitions:
    """Assets (with contract checks), jobs, schedules and the sensor for ``platform``'s graph,
    run against the named environment's resource."""
    config = platform.settings.orchestrate
    retry = RetryPolicy(
        max_retries=config.max_retries,
        delay=config.retry_delay_seconds,
        backoff=Backoff.EXPONENTIAL,
    )
    project = platform.project()
    resource = environment_resource(environment, str(platform.settings.data_dir))
    return Definitions(
        assets=build_assets(project, retry),
        jobs=jobs(),
        schedules=schedules(config),
        sensors=[snapshot_sensor(project)],
        resources={RESOURCE_KEY: resource},
    )
