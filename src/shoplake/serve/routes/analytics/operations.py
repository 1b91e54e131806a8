"""Operations: the stream's progress and every table's freshness and contract results."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shoplake.errors import ShoplakeError
from shoplake.platform import Platform
from shoplake.serve.auth import Caller

if TYPE_CHECKING:
    pass

from shoplake.serve.routes.analytics.common import (
    PlatformDep,
    analyst_or_admin,
    lakehouse_rows,
    moment,
)

router = APIRouter()


class ShardProgress(BaseModel):
    shard: int
    lag: int = Field(description="entries on the log not yet committed to the lakehouse")
    events_position: str | None = None
    dead_letters_position: str | None = None


class StreamPanel(BaseModel):
    log: Literal["up", "down"] = Field(description="whether the event log answered")
    backend: str
    events: int = Field(description="rows of bronze.events")
    dead_letters: int = Field(description="rows of bronze.dead_letters")
    events_per_second: float = Field(description="over the recent commits to bronze.events")
    total_lag: int | None = Field(default=None, description="sum of the shards' lag (log up only)")
    shards: list[ShardProgress]
    last_commit: dt.datetime | None = None
    note: str | None = None


@router.get("/stream", summary="Events per second, lag per shard, dead letters, last commit")
def stream(platform: PlatformDep) -> StreamPanel:
    """The stream's progress; never starts the event log (a stopped one is a note)."""
    try:
        status = platform.stream_status()
    except (ShoplakeError, OSError) as exc:  # a remote log that fails in an unexpected way
        return StreamPanel(
            log="down",
            backend=platform.settings.stream.backend,
            events=0,
            dead_letters=0,
            events_per_second=0.0,
            shards=[],
            note=f"the event log did not answer: {exc}",
        )
    up = status.log == "up"
    shards = [ShardProgress(**shard) for shard in status.shards] if up else []
    note = status.note
    if not up and status.last_commit is None:
        note = f"{note}; bronze.events does not exist yet (`shoplake stream process`)"
    return StreamPanel(
        log="up" if up else "down",
        backend=status.backend,
        events=status.events,
        dead_letters=status.dead_letters,
        events_per_second=status.events_per_second,
        total_lag=sum(s.lag for s in shards) if up else None,
        shards=shards,
        last_commit=moment(status.last_commit),
        note=note,
    )


# Data health ---------------------------------------------------------------------------------


class ContractResult(BaseModel):
    model: str
    check_name: str
    status: str = Field(description="pass | fail | error")
    failing_rows: int
    message: str | None = Field(description="admins only: a failure message may quote rows")
    source: str = Field(description="transform (before publish) | check (published)")
    checked_at: dt.datetime


class TableHealth(BaseModel):
    name: str
    layer: str
    rows: int
    data_files: int
    bytes: int
    snapshots: int
    last_commit: dt.datetime | None = None
    age_seconds: float | None = Field(default=None, description="seconds since the last commit")
    watermark: str | None = None
    checks_passed: int = 0
    checks_failed: int = Field(default=0, description="failed or errored checks of the latest run")
    status: Literal["pass", "fail", "unchecked", "unreadable"] = "unchecked"
    problem: str | None = Field(default=None, description="why an unreadable table is so")
    contracts: list[ContractResult] = Field(default_factory=list)


class Health(BaseModel):
    generated_at: dt.datetime
    tables: list[TableHealth]
    note: str | None = None


def _latest_results(
    platform: Platform, with_messages: bool
) -> tuple[list[ContractResult], str | None]:
    """Each model's checks from the latest run that checked it."""
    rows, note = lakehouse_rows(
        platform,
        """
        SELECT model, check_name, status, failing_rows, message, source, checked_at
        FROM audit.contract_results
        QUALIFY checked_at = max(checked_at) OVER (PARTITION BY model)
        ORDER BY model, check_name
        """,
    )
    results = []
    for row in rows:
        row["message"] = (row["message"] or "") if with_messages else None
        row["failing_rows"] = row["failing_rows"] or 0
        results.append(ContractResult(**row))
    return results, note


@router.get("/health", summary="Freshness and latest contract results of every table")
def health(platform: PlatformDep, caller: Annotated[Caller, Depends(analyst_or_admin)]) -> Health:
    from shoplake.lake.integrity import unreadable_for_clients

    now = dt.datetime.now(dt.UTC)
    results, note = _latest_results(platform, with_messages=caller.sees_pii)
    by_model: dict[str, list[ContractResult]] = {}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    tables = []
    for stats in platform.tables():
        last = moment(stats.last_commit)
        checks = by_model.get(stats.name, [])
        failed = sum(c.status != "pass" for c in checks)
        tables.append(
            TableHealth(
                **stats.as_dict()
                | {
                    "last_commit": last,
                    "problem": stats.problem and unreadable_for_clients(stats.name),
                },
                layer=stats.name.split(".", 1)[0],
                age_seconds=round((now - last).total_seconds(), 1) if last else None,
                checks_passed=len(checks) - failed,
                checks_failed=failed,
                status="unreadable"
                if stats.problem
                else ("fail" if failed else "pass")
                if checks
                else "unchecked",
                contracts=checks,
            )
        )
    if not tables:
        note = "the lakehouse has no tables yet: run `shoplake ingest`"
    elif note and "audit.contract_results" in note:
        note = "no contract results yet: run `shoplake transform` or `shoplake check`"
    return Health(generated_at=now, tables=tables, note=note)
