"""The command line: help, one-line errors with secrets masked, output formats."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.lake.conftest import tiny  # noqa: F401  (fixture)


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_help_lists_the_lifecycle_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "demo",
        "generate",
        "simulate",
        "ingest",
        "tables",
        "maintain",
        "query",
        "sources",
        "config",
        "bench",
    ):
        assert command in result.stdout


def test_unreachable_source_is_one_line_with_password_masked(tmp_path: Path) -> None:
    result = run(
        "--data-dir", str(tmp_path), "ingest",
        env={"SHOPLAKE_SOURCE__URL": "postgresql://shop:s3cret@127.0.0.1:9/shop"},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: cannot connect to source 'postgresql://shop:***@127.0.0.1:9/shop': "
    )
    assert lines[0].endswith("Connection refused")
    assert "s3cret" not in result.stderr + result.stdout


def test_missing_source_table_is_named(tiny: Platform) -> None:  # noqa: F811
    result = run(
        "--data-dir", str(tiny.settings.data_dir), "ingest", "nosuchtable", "--no-progress"
    )
    assert result.returncode == 1
    assert "error: source table 'nosuchtable' does not exist" in result.stderr


def test_query_json_and_csv_outputs(tiny: Platform) -> None:  # noqa: F811
    args = ("--data-dir", str(tiny.settings.data_dir), "query")
    sql = "SELECT id, name, price FROM bronze.items ORDER BY id"
    as_json = run(*args, sql, "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"id": 1, "name": "kettle", "price": 19.99},
        {"id": 2, "name": "mug", "price": 4.5},
        {"id": 3, "name": "teapot", "price": 31.0},
    ]
    as_csv = run(*args, sql, "--output", "csv")
    assert as_csv.stdout.splitlines() == [
        '"id","name","price"',
        '1,"kettle",19.99',
        '2,"mug",4.50',
        '3,"teapot",31.00',
    ]
    refused = run(*args, "DROP TABLE bronze.items")
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == "error: refused: DROP statement; only a single read-only SELECT is allowed"
    )


def test_tables_json(tiny: Platform) -> None:  # noqa: F811
    result = run("--data-dir", str(tiny.settings.data_dir), "tables", "--output", "json")
    (table,) = json.loads(result.stdout)
    assert (table["name"], table["rows"], table["snapshots"]) == ("bronze.items", 3, 1)


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = run(
        "--data-dir", str(tmp_path), "config", "show", "--output", "json",
        env={"SHOPLAKE_SOURCE__URL": "postgresql://shop:s3cret@db/shop"},
    )  # fmt: skip
    config = json.loads(result.stdout)
    assert config["source"]["url"] == "postgresql://shop:***@db/shop"
    assert config["data_dir"] == str(tmp_path)


@pytest.mark.e2e
def test_demo_walks_the_lifecycle(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a free port, so a developer's own valkey is left alone
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {"SHOPLAKE_SERVICES__VALKEY_PORT": port}
    data_dir = tmp_path / "demo"
    result = run(
        "--data-dir", str(data_dir), "demo", "--scale", "0.01", "--orders", "30",
        "--events", "3000", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for heading in (
        "2 · stream · clickstream",
        "1 · generate",
        "2 · ingest",
        "1 again · simulate",
        "2 again · incremental ingest",
        "2 · API · a supplier's REST API",
        "3 · store",
        "5 · recommend",
        "query · ask the lakehouse",
        "Try next",
        "Open the dashboard",
        "shoplake serve",
    ):
        assert heading in text
    assert "no new snapshot — ingestion is idempotent" in text
    # Stage 4 runs through Dagster, recorded under the data dir like `shoplake run`.
    assert "silver: 12 of 12 models" in text and "12 contracts passed" in text
    assert "gold: 10 of 10 models" in text
    supplier = re.search(
        r"read 110 products and (\d+) reviews in (\d+) requests, surviving (\d+)", text
    )
    assert supplier is not None and int(supplier.group(3)) > 0, text  # faults were injected
    dead = re.search(r"(\d+) invalid records went to bronze.supplier_dead_letters", text)
    assert dead is not None and int(dead.group(1)) > 0
    assert re.search(r"changed 30 records; .* landed ([1-9]\d*) new versions", text)
    assert (data_dir / "dagster" / "history").is_dir()
    assert re.search(r"NDCG@10 ALS 0\.\d{3} vs popularity 0\.\d{3}", text)
    assert "published gold.user_embeddings (" in text
    live = re.search(r"(\d+) of its top (\d+) are ([A-Za-z ]+)\.", text)
    assert live is not None and int(live.group(1)) >= 7 and int(live.group(2)) == 10
    # A second demo in the same (demo-made) directory starts fresh; a foreign one is refused.
    again = run("--data-dir", str(data_dir), "demo", "--scale", "0.01", "--orders", "5", env=env)
    assert again.returncode == 0, again.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = run("--data-dir", str(foreign), "demo")
    assert refused.returncode == 1
    assert "already holds data the demo did not create" in refused.stderr
    assert (foreign / "keep.txt").read_text() == "mine"


def test_ingest_before_any_source_says_how_to_create_one(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "ingest")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: source database {tmp_path / 'source.db'} does not exist: create it with "
        "`shoplake generate` or `shoplake sources load-classicmodels [PATH] [--ratings shipped]` "
        "(the ClassicModels dump shipped with shoplake unless PATH names another), "
        "or set source.url"
    )
    assert not (tmp_path / "source.db").exists()  # and no empty database was left behind


def test_a_bad_option_value_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "transform", "--engine", "foo")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--engine': Value error, 'foo' is not one of 'duckdb', 'spark'."
    )
    scale = run("--data-dir", str(tmp_path), "generate", "--scale", "abc")
    assert scale.returncode == 2 and "Traceback" not in scale.stderr
    assert "Error: Invalid value for '--scale'" in scale.stderr
