"""Run assets in-process through Dagster, with run history kept under the data dir."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetKey, AssetSelection, DagsterInstance, Definitions

from shoplake.errors import ShoplakeError
from shoplake.orchestrate.assets import (
    INGEST,
    ML,
    MODEL_KEY,
    TRAIN_OUTPUTS,
    TRAIN_STEP,
    TRANSFORM,
    key_of,
    table_of,
)
from shoplake.orchestrate.definitions import build_definitions

if TYPE_CHECKING:
    from pathlib import Path

    from dagster import ExecuteInProcessResult
    from dagster._utils.error import SerializableErrorInfo

    from shoplake.platform import Platform

Outcome = Literal["materialized", "failed", "not run"]
GROUPS = (INGEST, TRANSFORM, ML)
LAYER_ORDER = ("bronze", "silver", "gold", "ml")


@dataclass(frozen=True)
class AssetOutcome:
    """What one selected asset did in a run."""

    asset: str  # lakehouse table name, or ml.model
    outcome: Outcome
    error: str = ""
    rows: int | None = None  # rows the asset reported, when it reports any


@dataclass
class RunSummary:
    """One Dagster run: its id, overall success, every asset's outcome and contract results."""

    run_id: str
    success: bool
    assets: list[AssetOutcome]
    contracts: dict[str, bool]  # table -> every check of its contract passed


def open_instance(home: Path) -> DagsterInstance:
    """The persistent Dagster instance (SQLite storage) in ``home``, telemetry off."""
    from dagster._core.instance.ref import InstanceRef

    from shoplake.orchestrate.instance import prepare_home

    prepare_home(home)
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def selection(selectors: list[str] | None) -> AssetSelection:
    """Dagster's selection from shoplake's: a group (ingest, transform, ml), or a table
    (``silver.orders`` or ``silver/orders``), with ``+`` after it for everything downstream."""
    if not selectors:
        return AssetSelection.all()
    chosen: AssetSelection | None = None
    for selector in selectors:
        name = selector.rstrip("+")
        picked: AssetSelection
        if name in GROUPS:
            picked = AssetSelection.groups(name)
        else:
            picked = AssetSelection.assets(AssetKey(name.replace("/", ".").split(".")))
        if selector.endswith("+"):
            picked = picked.downstream()
        chosen = picked if chosen is None else chosen | picked
    assert chosen is not None
    return chosen


def unknown_selectors(selectors: list[str], graph: Any) -> str:
    """The line for selectors Dagster cannot resolve: each bad one, with the closest table."""
    from shoplake.lake.naming import closest_table

    def resolves(selector: str) -> bool:
        try:
            selection([selector]).resolve(graph)
        except Exception:
            return False
        return True

    tables = [table_of(k) for k in graph.get_all_asset_keys()]
    named = []
    for selector in [s for s in selectors if not resolves(s)] or selectors:
        match = closest_table(selector.rstrip("+").replace("/", "."), tables)
        named.append(f"{selector} (did you mean {match}?)" if match else selector)
    return (
        f"no asset matches {', '.join(named)}: name a table (silver.orders), optionally with + "
        f"for its downstream, or a group ({', '.join(GROUPS)})"
    )


def execute(
    defs: Definitions,
    instance: DagsterInstance,
    selectors: list[str] | None = None,
    *,
    log_level: str = "INFO",
) -> RunSummary:
    """Materialize the selected assets (all by default) in this process; a failed asset stops
    its downstream branch while the others run on."""
    graph = defs.resolve_asset_graph()
    buildable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    picked = selection(selectors)
    try:
        keys = picked.resolve(graph) & buildable
    except Exception:  # Dagster names the unknown keys in a long message
        raise ShoplakeError(unknown_selectors(selectors or [], graph)) from None
    if not keys:
        raise ShoplakeError(f"nothing to run for {', '.join(selectors or [])}")
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=sorted(keys),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    contracts = {table_of(e.asset_key): e.passed for e in result.get_asset_check_evaluations()}
    return RunSummary(result.run_id, result.success, outcomes(result, keys), contracts)


def root_cause(error: SerializableErrorInfo | None) -> str:
    """The first line of the innermost error (a retried step's error wraps the last attempt's),
    without its class name."""
    if error is None:
        return "failed"
    inner = error
    while (deeper := inner.cause or inner.context) is not None:
        inner = deeper
    name = inner.cls_name or ""
    text = (inner.message or "").strip()
    line = text.splitlines()[0] if text else name or "failed"
    module, found, rest = line.partition(f"{name}: ") if name else ("", "", line)
    qualified = found and (not module or (module.endswith(".") and " " not in module))
    return rest if qualified else line


def outcomes(result: ExecuteInProcessResult, keys: AbstractSet[AssetKey]) -> list[AssetOutcome]:
    """Per asset: materialized, failed (with the step's one-line error) or not run."""
    done: dict[AssetKey, int | None] = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key is not None:
            rows = event.materialization.metadata.get("rows")
            done[event.asset_key] = int(rows.value) if rows is not None else None  # type: ignore[arg-type]
    errors: dict[str, str] = {}
    for event in result.get_step_failure_events():
        failure = event.step_failure_data
        text = failure.user_failure_data.description if failure.user_failure_data else None
        errors[event.step_key or ""] = text or root_cause(failure.error)
    train_keys = {MODEL_KEY, *(key_of(t) for t in TRAIN_OUTPUTS)}
    listed = []
    for key in sorted(keys, key=lambda k: (LAYER_ORDER.index(k.path[0]), list(k.path))):
        step = TRAIN_STEP if key in train_keys else "__".join(key.path)
        if key in done:
            listed.append(AssetOutcome(table_of(key), "materialized", rows=done[key]))
        elif step in errors:
            listed.append(AssetOutcome(table_of(key), "failed", errors[step]))
        else:
            listed.append(AssetOutcome(table_of(key), "not run"))
    return listed


def run(
    platform: Platform,
    selectors: list[str] | None = None,
    *,
    environment: str = "local",
    log_level: str = "INFO",
) -> RunSummary:
    """``shoplake run``: the platform's graph, executed and recorded in its Dagster instance."""
    defs = build_definitions(platform, environment)
    with open_instance(platform.settings.dagster_home) as instance:
        return execute(defs, instance, selectors, log_level=log_level)
