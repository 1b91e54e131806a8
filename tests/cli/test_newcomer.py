"""The small things a newcomer meets first: --version, typo'd and bare table names, --format,
unwrapped error lines, plurals and the lifecycle in --help."""

from __future__ import annotations

import re
import sqlite3
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pytest

from shoplake.cli.output import plural
from shoplake.platform import Platform
from tests.cli.test_cli import run
from tests.lake.conftest import tiny  # noqa: F401  (fixture)

LAYERED = ("bronze.orders", "bronze.orderdetails", "silver.orders", "gold.fact_orders")


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    """A data dir whose lakehouse holds a table of each layer, one row each."""
    shop = Platform(data_dir=tmp_path / "layered")
    for name in LAYERED:
        data = pa.table({"order_number": pa.array([10100], pa.int64())})
        shop.catalog.create_table(name, schema=data.schema).append(data)
    return shop.settings.data_dir


def test_version_is_printed_with_exit_0() -> None:
    for flag in ("--version", "-V"):
        result = run(flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"shoplake {version('shoplake')}\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("query", "SELECT * FROM gold.fact_order"),
            "no lakehouse table 'gold.fact_order' — did you mean gold.fact_orders?",
        ),
        (
            ("maintain", "bronze.orderdetail"),
            "no lakehouse table 'bronze.orderdetail' — did you mean bronze.orderdetails?",
        ),
        (("check", "silver.ordrs"), "no model 'silver.ordrs' — did you mean silver.orders?"),
        (
            ("lineage", "gold.fact_order"),
            "no model 'gold.fact_order' — did you mean gold.fact_orders?",
        ),
        (
            ("query", "SELECT count(*) FROM orders"),
            "no table 'orders': tables are named layer.table: try silver.orders or bronze.orders",
        ),
        (
            ("query", "SELECT count(*) FROM silvr.orders"),
            "no lakehouse table 'silvr.orders' — did you mean silver.orders?",
        ),
        (
            ("maintain", "orderdetails"),
            "no table 'orderdetails': tables are named layer.table: try bronze.orderdetails",
        ),
    ],
)
def test_a_mistyped_table_is_one_line_with_a_suggestion(
    layered: Path, args: tuple[str, ...], line: str
) -> None:
    result = run("--data-dir", str(layered), *args)
    assert result.returncode == 1
    assert result.stderr == f"error: {line}\n"


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("tables", "--format", "json"), "use --output json"),
        (("query", "--format=csv", "SELECT 1"), "use --output csv"),
        (("check", "--format"), "this command's format is chosen with --output"),
    ],
)
def test_format_points_at_output(tmp_path: Path, args: tuple[str, ...], hint: str) -> None:
    result = run("--data-dir", str(tmp_path), *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"Error: No such option: --format: {hint}"


def test_format_on_a_command_without_output_is_left_alone(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "lineage", "--format", "json")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "Error: No such option: --format"


def test_a_long_error_is_one_line_when_piped(tiny: Platform) -> None:  # noqa: F811
    with sqlite3.connect(tiny.settings.data_dir / "source.db") as conn:
        conn.execute("ALTER TABLE items DROP COLUMN email")
    result = run("--data-dir", str(tiny.settings.data_dir), "ingest", "--no-progress")
    assert result.returncode == 1
    line = (
        "error: items.email: column was dropped from the source; bronze keeps its history, so "
        "restore it or rebuild with `shoplake ingest items --full-refresh`"
    )
    assert line in result.stderr.splitlines()


def test_counts_of_one_are_singular(layered: Path) -> None:
    assert [plural(n, "row") for n in (0, 1, 2, 1200)] == [
        "0 rows",
        "1 row",
        "2 rows",
        "1,200 rows",
    ]
    assert plural(1, "token fetch", "token fetches") == "1 token fetch"
    assert plural(3, "token fetch", "token fetches") == "3 token fetches"
    one = run("--data-dir", str(layered), "query", "SELECT order_number FROM silver.orders")
    assert one.returncode == 0, one.stderr
    assert re.fullmatch(r"1 row in \d+\.\d\d s", one.stdout.splitlines()[-1])


def test_help_names_the_whole_lifecycle() -> None:
    result = run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "The lifecycle: generate → ingest → store → transform → serve." in text


def test_one_event_is_one_event_and_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shoplake.services import free_port
    from tests.support.streams import local_valkey

    monkeypatch.setenv("SHOPLAKE_SERVICES__VALKEY_PORT", str(free_port()))  # and the CLI's
    args = ("--data-dir", str(tmp_path / "stream"))
    assert run(*args, "generate", "--scale", "0.001").returncode == 0
    with local_valkey(Platform(data_dir=tmp_path / "stream").settings):
        produced = run(*args, "stream", "produce", "--events", "1")
        assert produced.returncode == 0, produced.stderr
        assert produced.stderr.startswith("produced 1 event in ")
        processed = run(*args, "stream", "process", "--until-idle")
        assert processed.returncode == 0, processed.stderr
        assert processed.stderr.startswith(
            "read 1: 1 event, 0 dead letters, 0 duplicates dropped, 1 commit in "
        )
