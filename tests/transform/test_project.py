"""The model project: discovery, dependencies read from SQL, order, selection, lineage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shoplake.generate.schema import SOURCE_TABLES
from shoplake.transform.project import MODELS_DIR, Project, ProjectError, referenced_tables

SILVER = set(SOURCE_TABLES)  # one silver model per source table


def test_dependencies_come_from_the_sql_not_from_cte_names() -> None:
    sql = (
        "WITH source AS (SELECT * FROM bronze.orders), orders AS (SELECT * FROM source) "
        "SELECT * FROM orders o JOIN silver.customers c USING (customer_number) "
        "WHERE o.x IN (SELECT x FROM gold.dim_dates)"
    )
    assert referenced_tables(sql) == {"bronze.orders", "silver.customers", "gold.dim_dates"}


def test_every_silver_model_reads_its_bronze_table() -> None:
    project = Project.load()
    for name in SILVER:
        model = project.models[f"silver.{name}"]
        assert model.upstream == {f"bronze.{name}"}
        assert model.materialized == "incremental"
        assert model.unique_key


def test_order_runs_dependencies_first() -> None:
    project = Project.load()
    position = {t: i for i, t in enumerate(project.order)}
    for target, model in project.models.items():
        for dependency in model.depends_on:
            if dependency in project.models:
                assert position[dependency] < position[target], (dependency, target)


def test_selection_with_downstream() -> None:
    project = Project.load()
    assert project.select(["silver.offices"]) == ["silver.offices"]
    with_children = project.select(["silver.offices+"])
    assert with_children[0] == "silver.offices"
    assert "silver.employees" in with_children  # its contract checks employees → offices
    with pytest.raises(ProjectError, match="no model 'nothing'"):
        project.select(["nothing"])


def write(folder: Path, name: str, sql: str, yml: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(sql)
    if yml:
        (folder / f"{name}.yml").write_text(yml)


def test_cycles_and_ambiguity_are_reported(tmp_path: Path) -> None:
    write(tmp_path / "silver", "a", "SELECT * FROM silver.b")
    write(tmp_path / "silver", "b", "SELECT * FROM silver.a")
    with pytest.raises(ProjectError, match="cycle"):
        _ = Project.load(tmp_path).order

    other = tmp_path / "other"
    write(other / "silver", "items", "SELECT * FROM bronze.items")
    write(other / "gold", "items", "SELECT * FROM silver.items")
    project = Project.load(other)
    assert project.order == ["silver.items", "gold.items"]
    with pytest.raises(ProjectError, match=r"ambiguous: use one of gold\.items, silver\.items"):
        project.resolve("items")
    assert project.upstream("gold.items") == ["bronze.items", "silver.items"]
    assert project.downstream("silver.items") == ["gold.items"]


def test_bad_yaml_and_bad_sql_name_the_file(tmp_path: Path) -> None:
    write(tmp_path / "silver", "x", "SELECT * FROM bronze.x", "columns: [unclosed")
    with pytest.raises(ProjectError, match=r"x\.yml: invalid YAML"):
        Project.load(tmp_path)
    bad = tmp_path / "bad"
    write(bad / "silver", "y", "SELEC * FROMM")
    with pytest.raises(ProjectError, match=r"y\.sql: a model must be one SELECT statement"):
        Project.load(bad)


def test_dependency_cache_remembers_parsed_tables_and_notices_changes(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache" / "model_tables.json"
    first = Project.load(cache_file=cache_file)
    assert (
        first.models["gold.fact_orders"].upstream
        == Project.load().models["gold.fact_orders"].upstream
    )
    remembered = json.loads(cache_file.read_text())
    assert len(remembered) == len(first.models)
    assert sorted(first.models["gold.sales_by_month"].upstream) in remembered.values()

    # A changed model is parsed again; the cache never answers for SQL it has not seen.
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    sql = models / "gold" / "sales_by_month.sql"
    sql.write_text(sql.read_text().replace("FROM gold.dim_customers", "FROM silver.customers"))
    changed = Project.load(models, cache_file=cache_file)
    assert "silver.customers" in changed.models["gold.sales_by_month"].upstream
    assert "gold.dim_customers" not in changed.models["gold.sales_by_month"].upstream
    assert len(json.loads(cache_file.read_text())) == len(first.models) + 1

    cache_file.write_text("{not json")  # a damaged cache is rebuilt, not trusted
    assert Project.load(cache_file=cache_file).models.keys() == first.models.keys()
