"""The model project: discovery, dependencies read from SQL, order, selection, lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.generate.schema import SOURCE_TABLES
from shoplake.transform.project import Project, ProjectError, referenced_tables

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
