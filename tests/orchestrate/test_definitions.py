"""The Dagster definitions mirror shoplake's graph: tables, dependencies, contracts, automation."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, Backoff, Definitions

from shoplake.generate.schema import SOURCE_TABLES
from shoplake.orchestrate.assets import CONTRACT_CHECK, MODEL_KEY, TRAIN_OUTPUTS, key_of
from shoplake.orchestrate.definitions import RESOURCE_KEY, build_definitions
from shoplake.orchestrate.resources import ShoplakeResource
from shoplake.platform import Platform
from shoplake.transform.contracts import compile_checks


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return Platform(data_dir=tmp_path_factory.mktemp("defs"))


@pytest.fixture(scope="module")
def defs(platform: Platform) -> Definitions:
    return build_definitions(platform)


def test_the_definitions_load_as_a_code_location(defs: Definitions) -> None:
    Definitions.validate_loadable(defs)  # what the webserver does: names unique, jobs resolve


def test_every_table_is_an_asset(defs: Definitions, platform: Platform) -> None:
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    project = platform.project()
    expected = {key_of(f"bronze.{t}") for t in SOURCE_TABLES} | {key_of("bronze.events")}
    expected |= {key_of("bronze.supplier_products"), key_of("bronze.supplier_reviews")}
    expected |= {key_of(t) for t in project.models}
    expected |= {MODEL_KEY, *(key_of(t) for t in TRAIN_OUTPUTS)}
    assert keys == expected
    assert len(keys) == 9 + 1 + 2 + 22 + 4
    groups = {k: graph.get(k).group_name for k in keys}
    assert {k for k, g in groups.items() if g == "ingest"} == {
        k for k in keys if k.path[0] == "bronze"
    }
    assert {k for k, g in groups.items() if g == "transform"} == {key_of(t) for t in project.models}
    assert groups[MODEL_KEY] == groups[key_of("gold.recommendations")] == "ml"
    assert not graph.get(key_of("bronze.events")).is_materializable  # landed by the stream
    assert not graph.get(key_of("bronze.supplier_products")).is_materializable  # by `ingest api`


def test_dependencies_equal_the_model_graph(defs: Definitions, platform: Platform) -> None:
    graph = defs.resolve_asset_graph()
    for target, model in platform.project().models.items():
        parents = graph.get(key_of(target)).parent_keys
        assert parents == {key_of(t) for t in model.depends_on}, target
    assert graph.get(key_of("silver.orders")).parent_keys == {
        AssetKey(["bronze", "orders"]),
        AssetKey(["silver", "customers"]),
    }
    train_inputs = graph.get(MODEL_KEY).parent_keys
    assert key_of("gold.interactions") in train_inputs
    assert graph.get(key_of("gold.recommendations")).parent_keys == {MODEL_KEY}


def test_one_check_per_contract(defs: Definitions, platform: Platform) -> None:
    graph = defs.resolve_asset_graph()
    contracts = {
        key_of(t) for t, m in platform.project().models.items() if list(compile_checks(m, "r"))
    }
    assert len(contracts) == 22
    checks = graph.asset_check_keys
    assert {c.asset_key for c in checks} == contracts
    assert len(checks) == len(contracts)
    assert {c.name for c in checks} == {CONTRACT_CHECK}


def test_retries_back_off_exponentially(defs: Definitions) -> None:
    job = defs.resolve_implicit_global_asset_job_def()
    policy = job.graph.node_named("bronze__orders").definition.retry_policy
    assert policy is not None
    assert (policy.max_retries, policy.delay, policy.backoff) == (3, 5.0, Backoff.EXPONENTIAL)


def test_schedules_and_maintenance_job(tmp_path: Path) -> None:
    platform = Platform(data_dir=tmp_path, **{"orchestrate.train_cron": "15 2 * * *"})
    defs = build_definitions(platform)
    crons = {s.name: (s.cron_schedule, s.job_name) for s in defs.schedules or []}
    assert crons == {
        "hourly_pipeline": ("0 * * * *", "ingest_transform"),
        "daily_train": ("15 2 * * *", "train"),
        "stream_maintenance": ("30 4 * * *", "maintain_events"),
    }
    pipeline = defs.resolve_job_def("ingest_transform")
    assert key_of("bronze.orders") in pipeline.asset_layer.executable_asset_keys
    assert key_of("gold.fact_orders") in pipeline.asset_layer.executable_asset_keys
    assert MODEL_KEY not in pipeline.asset_layer.executable_asset_keys
    assert [s.name for s in defs.sensors or []] == ["bronze_snapshots"]


def test_environments_swap_the_resource_not_the_code(tmp_path: Path) -> None:
    platform = Platform(data_dir=tmp_path)
    local = build_definitions(platform, "local").resources[RESOURCE_KEY]
    aws = build_definitions(platform, "aws").resources[RESOURCE_KEY]
    assert isinstance(local, ShoplakeResource)
    assert isinstance(aws, ShoplakeResource)
    assert local.platform().settings.stream.backend == "valkey"
    assert aws.platform().settings.stream.backend == "kinesis"
    assert aws.platform().settings.data_dir == local.platform().settings.data_dir == tmp_path
