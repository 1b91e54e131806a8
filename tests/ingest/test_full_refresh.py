"""`ingest --full-refresh` replaces a bronze table in one commit: a process killed with SIGKILL
anywhere leaves the old content or the new, never an empty or missing table."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.ingest.conftest import source_sql
from tests.support.kills import after, kill_when, new_file_in
from tests.support.lakehouse import bronze_table

Point = Callable[[Path], bool]


def refresh(data_dir: Path, table: str) -> subprocess.Popen[bytes]:
    """``shoplake ingest TABLE --full-refresh`` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), "ingest", table,
         "--full-refresh", "--no-progress"],
        env={**os.environ, "SHOPLAKE_INGEST__BATCH_ROWS": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def table_state(shop: Platform, table: str) -> tuple[int, list[str]]:
    data = bronze_table(Platform(data_dir=shop.settings.data_dir), table)
    return data.num_rows, data.column_names


def kill_points(table_dir: Path) -> dict[str, Callable[[], Callable[[], bool]]]:
    """Moments to kill at, each a factory (called just before the run) of a check."""
    return {
        "at start": lambda: after(0.0),
        "after 0.8 s": lambda: after(0.8),
        "first new data file": lambda: new_file_in(table_dir / "data"),
        "new metadata file": lambda: new_file_in(table_dir / "metadata"),
    }


RETYPE_PRODUCTS = (  # quantityInStock becomes text, a change bronze cannot widen to
    "CREATE TABLE products_old AS SELECT * FROM products",
    "DROP TABLE products",
    'CREATE TABLE products ("productCode" VARCHAR(15) PRIMARY KEY, "productName" VARCHAR(70), '
    '"productLine" VARCHAR(50), "productScale" VARCHAR(10), "productVendor" VARCHAR(50), '
    '"productDescription" TEXT, "quantityInStock" VARCHAR(20), "buyPrice" NUMERIC(10, 2), '
    '"MSRP" NUMERIC(10, 2))',
    "INSERT INTO products SELECT * FROM products_old",
    "DROP TABLE products_old",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "changes"),
    [
        # Rows gone from the source: the refresh lands fewer rows than bronze holds.
        ("orderdetails", ("DELETE FROM orderdetails WHERE orderNumber % 3 = 0",)),
        # The usual reason to refresh: schema and rows must swap together.
        ("products", RETYPE_PRODUCTS),
    ],
)
def test_full_refresh_killed_anywhere_leaves_old_or_new(
    shop: Platform, table: str, changes: tuple[str, ...]
) -> None:
    shop.ingest([table])
    source_sql(shop, *changes)
    old = table_state(shop, table)
    table_dir = shop.settings.data_dir / "warehouse" / "bronze" / table
    seen: dict[str, tuple[int, list[str]]] = {}
    killed: set[str] = set()
    for name, point in kill_points(table_dir).items():
        for _attempt in range(3):  # a fast run may finish before the moment is seen
            if kill_when(refresh(shop.settings.data_dir, table), point()):
                killed.add(name)
                break
        seen[name] = table_state(shop, table)
    assert {"at start", "first new data file"} <= killed

    assert shop.ingest([table], full_refresh=True).ok
    new = table_state(shop, table)
    assert new != old
    for name, state in seen.items():
        assert state in (old, new), f"killed {name}: bronze.{table} holds {state}"
    # Killed before its commit, the table kept every old row (not 0 rows, not no table).
    assert seen["first new data file"] == old
    data = bronze_table(shop, table)
    assert set(data.column("_op").to_pylist()) == {"insert"}
    assert set(data.column("_batch_id").to_pylist()) == {1}
    assert data.num_rows == {"orderdetails": 6622, "products": 110}[table]
    if table == "products":
        assert str(data.schema.field("quantityInStock").type) in {"string", "large_string"}
    assert shop.ingest([table]).rows == 0


def test_full_refresh_follows_a_dropped_column_and_keeps_history_readable(
    shop: Platform,
) -> None:
    shop.ingest(["customers"])
    first = shop.catalog.load_table("bronze.customers").current_snapshot()
    assert first is not None
    source_sql(shop, 'ALTER TABLE customers DROP COLUMN "addressLine2"')
    assert not shop.ingest(["customers"]).ok  # a plain ingest refuses the drift
    report = shop.ingest(["customers"], full_refresh=True)
    assert report.ok
    assert report.results[0].schema_changes == ["bronze.customers: column 'addressLine2' dropped"]
    bronze = shop.catalog.load_table("bronze.customers")
    current = bronze.scan().to_arrow()
    assert "addressLine2" not in current.column_names and current.num_rows == 100
    old = bronze.scan(snapshot_id=first.snapshot_id).to_arrow()  # time travel still reads
    assert "addressLine2" in old.column_names and old.num_rows == 100


def test_full_refresh_of_an_emptied_source_table_empties_bronze(shop: Platform) -> None:
    shop.ingest(["payments"])
    source_sql(shop, "DELETE FROM payments")
    result = shop.ingest(["payments"], full_refresh=True).results[0]
    assert (result.status, result.rows, result.batch_id) == ("loaded", 0, 1)
    assert bronze_table(shop, "payments").num_rows == 0
    assert shop.ingest(["payments"]).results[0].status == "unchanged"
