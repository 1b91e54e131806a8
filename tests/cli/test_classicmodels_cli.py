"""The public ClassicModels dump ships with shoplake: loading it needs no path, and the dump
alone (no ratings) goes through every stage from the command line."""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from shoplake.services import free_port
from tests.cli.test_cli import run
from tests.support.classicmodels import DUMP_COUNTS, DUMP_PROFIT, DUMP_REVENUE, RATINGS_IN_CSV

NO_RATINGS = (
    "no ratings loaded (the public dump has none): interactions come from purchases; "
    "`--ratings shipped` adds the course's ratings"
)


def ratings_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "source.db") as con:
        return int(con.execute("SELECT count(*) FROM ratings").fetchone()[0])


def table_counts(stdout: str) -> dict[str, int]:
    found = re.findall(r"^(\w+)\s+│\s+([\d,]+)\s*$", stdout, flags=re.MULTILINE)
    return {name: int(rows.replace(",", "")) for name, rows in found}


def test_load_without_a_path_loads_the_shipped_dump_alone(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "sources", "load-classicmodels")
    assert result.returncode == 0, result.stderr
    assert table_counts(result.stdout) == DUMP_COUNTS
    assert " ".join(result.stderr.split()) == NO_RATINGS
    assert ratings_in(tmp_path) == 0


def test_ratings_shipped_or_a_path(tmp_path: Path, classicmodels_ratings_csv: Path) -> None:
    args = ("--data-dir", str(tmp_path), "sources", "load-classicmodels")
    shipped = run(*args, "--ratings", "shipped")
    assert shipped.returncode == 0, shipped.stderr
    assert table_counts(shipped.stdout) == DUMP_COUNTS | {"ratings": RATINGS_IN_CSV}
    assert shipped.stderr == ""
    assert ratings_in(tmp_path) == RATINGS_IN_CSV
    none = run(*args, "--ratings", "none")  # the dump is loaded afresh: no ratings again
    assert none.returncode == 0 and ratings_in(tmp_path) == 0
    by_path = run(*args, "--ratings", str(classicmodels_ratings_csv))
    assert by_path.returncode == 0 and ratings_in(tmp_path) == RATINGS_IN_CSV


def test_a_missing_ratings_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = run(
        "--data-dir", str(tmp_path), "sources", "load-classicmodels", "--ratings", str(missing)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"Invalid value for '--ratings': '{missing}' is not a file" in " ".join(
        result.stderr.split()
    )
    assert not (tmp_path / "source.db").exists()


@pytest.mark.e2e
def test_every_stage_runs_on_the_dump_alone(tmp_path: Path) -> None:
    env = {"SHOPLAKE_SERVICES__VALKEY_PORT": str(free_port())}
    base = ("--data-dir", str(tmp_path))
    for command in (
        ("sources", "load-classicmodels"),
        ("ingest", "--no-progress"),
        ("transform",),
        ("check",),
        ("train",),
    ):
        result = run(*base, *command, env=env)
        assert result.returncode == 0, (command, result.stderr)
        if command == ("transform",):
            notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
            assert notes == [
                "note: silver.ratings: no rows: the optional source bronze.ratings has none",
                "note: gold.ratings_for_ml: no rows: the optional source bronze.ratings has none",
            ]
        if command == ("check",):
            assert "187 of 187 checks passed" in result.stdout
    gold = run(
        *base, "query", "SELECT count(*) AS n, sum(order_amount) AS revenue, sum(profit) AS "
        "profit FROM gold.fact_orders", "--output", "json", env=env,
    )  # fmt: skip
    assert json.loads(gold.stdout, parse_float=Decimal) == [
        {"n": 2996, "revenue": DUMP_REVENUE, "profit": DUMP_PROFIT}
    ]
    recommend = run(*base, "recommend", "103", env=env)
    assert recommend.returncode == 0, recommend.stderr
    ranks = re.findall(r"^\s*(\d+) │ (S\d+_\d+) ", recommend.stdout, flags=re.MULTILINE)
    assert [int(rank) for rank, _ in ranks] == list(range(1, 11))
    dagster = run(*base, "run", env=env)
    assert dagster.returncode == 0, dagster.stderr
    assert re.search(r"^ml\.model\s+ok$", dagster.stdout, flags=re.MULTILINE), dagster.stdout
    assert re.search(r"run \S+: success", dagster.stderr)
