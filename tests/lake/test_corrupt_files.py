"""A damaged table file is one line naming the table and the file, for every command that
reads the table; the files of the damaged table are left exactly as they were.

``recommend`` reads the promoted model's files, no lakehouse table, so it is not among them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from shoplake.platform import Platform
from tests.support.corrupt import KINDS, corrupt, restore_dir, snapshot_dir, tree

#: Each command, the table it reads that gets damaged, and whether it reads the table's
#: data files and manifests (``tables`` reads the metadata alone).
COMMANDS = {
    "ingest": (["ingest", "orders"], "bronze.orders", True),
    "query": (["query", "select count(*) from silver.orders"], "silver.orders", True),
    "tables": (["tables"], "silver.orders", False),
    "transform": (["transform", "--full-refresh"], "bronze.orders", True),
    "check": (["check"], "silver.orders", True),
    "maintain": (["maintain"], "silver.orders", True),
    "train": (["train"], "silver.orders", True),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped ClassicModels dump, ingested and transformed, kept aside."""
    root = tmp_path_factory.mktemp("corrupt")
    shop = Platform(data_dir=root / "shop")
    shop.load_classicmodels()
    assert shop.ingest().ok
    assert shop.transform().ok
    snapshot_dir(root / "shop", root / "pristine")
    return root


@pytest.fixture
def shop(pristine: Path) -> Iterator[Platform]:
    """A fresh copy of the pristine lakehouse, at the path its catalog names."""
    restore_dir(pristine / "pristine", pristine / "shop")
    yield Platform(data_dir=pristine / "shop")


def shoplake(shop: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(shop.settings.data_dir)]
    return subprocess.run(
        [*command, *args], check=False, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_file_is_named_and_left_alone(shop: Platform, command: str, kind: str) -> None:
    args, table, reads_files = COMMANDS[command]
    label, path = corrupt(shop, table, kind)
    table_dir = shop.settings.data_dir / "warehouse" / table.replace(".", "/")
    before = tree(table_dir)
    done = shoplake(shop, *args)
    assert "Traceback" not in done.stderr
    assert tree(table_dir) == before  # nothing of the damaged table rewritten or expired
    if not reads_files and label != "metadata file":
        assert done.returncode == 0, done.stderr
        assert "unreadable" not in done.stderr
        return
    assert done.returncode == 1, done.stdout[-2000:]
    line = f"table {table} is unreadable: {label} {path} "
    errors = [text for text in done.stderr.splitlines() + done.stdout.splitlines() if line in text]
    assert errors, done.stderr[-2000:] + done.stdout[-2000:]
    assert "is missing" in errors[0] if kind.endswith("delete") else "is not" in errors[0]


def test_tables_lists_the_others_and_marks_the_broken_one(shop: Platform) -> None:
    _, path = corrupt(shop, "silver.orders", "metadata-shape")
    done = shoplake(shop, "tables", "--output", "json")
    assert done.returncode == 1
    listed = {t["name"]: t for t in json.loads(done.stdout)}
    assert listed["silver.orders"]["problem"].startswith(
        f"table silver.orders is unreadable: metadata file {path} is not Iceberg table metadata"
    )
    assert listed["silver.customers"]["rows"] == 122
    assert listed["silver.customers"]["problem"] is None
    assert len(listed) == len([t for t in listed.values() if t["problem"] is None]) + 1
    assert done.stderr.count("error: table silver.orders is unreadable") == 1


@pytest.mark.parametrize("kind", ["data-truncate", "manifest-delete", "metadata-invalid"])
def test_doctor_names_the_broken_file(shop: Platform, kind: str) -> None:
    healthy = shoplake(shop, "doctor", "warehouse", "--output", "json")
    assert healthy.returncode == 0, healthy.stdout
    label, path = corrupt(shop, "gold.fact_orders", kind)
    done = shoplake(shop, "doctor", "warehouse")
    assert done.returncode == 1
    assert f"table gold.fact_orders is unreadable: {label} {path} " in done.stdout
    assert "restore it from a backup or rebuild the table" in done.stdout


def test_maintain_touches_nothing_when_a_past_snapshot_is_damaged(shop: Platform) -> None:
    """Maintenance reads every snapshot's manifests (to find unreferenced files): a damaged
    past manifest list is named before anything is compacted or expired."""
    shop.simulate(orders=5, seed=1)
    assert shop.ingest(["orders"]).ok
    iceberg = shop.catalog.load_table("bronze.orders")
    past, current = sorted(iceberg.snapshots(), key=lambda s: s.timestamp_ms)
    assert iceberg.current_snapshot() == current
    manifest_list = Path(urlparse(past.manifest_list).path)
    os.truncate(manifest_list, 30)
    warehouse = shop.settings.data_dir / "warehouse"
    before = tree(warehouse)
    done = shoplake(shop, "maintain", "--orphan-min-age", "0")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"error: table bronze.orders is unreadable: manifest list (of past snapshot "
        f"{past.snapshot_id}) {manifest_list.relative_to(warehouse)} is not a readable Avro file"
    )
    assert tree(warehouse) == before  # no table compacted, expired or cleaned
    assert shoplake(shop, "query", "select count(*) from bronze.orders").returncode == 0


@pytest.mark.parametrize("command", ["query", "train", "transform"])
def test_a_damaged_page_behind_an_intact_footer_is_named(shop: Platform, command: str) -> None:
    """The footers open, so the file is found by reading the table's files through (for
    transform, whose DuckDB reads the files itself, the table its error names)."""
    args, table, _ = COMMANDS[command]
    _, path = corrupt(shop, table, "data-scramble")
    done = shoplake(shop, *args)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = f"error: table {table} is unreadable: data file {path} is not a readable Parquet file ("
    assert any(text.startswith(line) for text in done.stderr.splitlines()), done.stderr
