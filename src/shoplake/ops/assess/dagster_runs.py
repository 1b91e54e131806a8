"""Step durations from the Dagster run history under the data dir.

``shoplake run``, the demo and ``shoplake ui`` run the models as Dagster assets and record
each run in the Dagster instance at ``settings.dagster_home``. Its step statistics give every
model's duration; this module reads them without starting anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: How many of the latest runs are read.
RECENT_RUNS = 20


@dataclass(frozen=True)
class StepTiming:
    """The latest successful duration of one step (a model's table, or the training step)."""

    step: str  # silver.orders, gold.fact_orders, train_recommender
    seconds: float
    run_id: str
    finished: dt.datetime

    def shown(self) -> str:
        return f"{self.seconds:.2f} s (run {self.run_id[:8]}, {self.finished:%Y-%m-%d %H:%M} UTC)"


def step_timings(home: Path, runs: int = RECENT_RUNS) -> list[StepTiming]:
    """Each step's duration in the most recent run where it succeeded, slowest first; empty
    when ``home`` holds no Dagster instance or no run."""
    if not (home / "dagster.yaml").exists() and not (home / "history").exists():
        return []  # opening an instance here would create one
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    latest: dict[str, StepTiming] = {}
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        finished = RunsFilter(statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE])
        for record in instance.get_run_records(filters=finished, limit=runs):  # newest first
            run_id = record.dagster_run.run_id
            for stats in instance.get_run_step_stats(run_id):
                step = stats.step_key.replace("__", ".")
                succeeded = getattr(stats.status, "value", None) == "SUCCESS"
                if step in latest or not succeeded or not stats.start_time or not stats.end_time:
                    continue
                latest[step] = StepTiming(
                    step,
                    stats.end_time - stats.start_time,
                    run_id,
                    dt.datetime.fromtimestamp(stats.end_time, tz=dt.UTC),
                )
    return sorted(latest.values(), key=lambda t: (-t.seconds, t.step))
