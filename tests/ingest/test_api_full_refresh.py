"""`ingest api --full-refresh` replaces each supplier table in one commit: a real
``shoplake ingest api --full-refresh`` killed with SIGKILL anywhere leaves every table with
its old content or its new one, never a missing, empty or half-loaded table."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shoplake import services
from shoplake.config import child_environment
from shoplake.platform import Platform
from tests.ingest.test_api_ingest import (  # noqa: F401 - the fixture is used by name
    _expected,
    _shop,
    _store,
    classicmodels_source,
)
from tests.support.kills import after, kill_when, new_file_in
from tests.support.supplier import running_supplier_api

TABLES = ("supplier_products", "supplier_reviews", "supplier_dead_letters")
KEYS = {"supplier_products": "sku", "supplier_reviews": "review_id"}
Content = dict[str, Any]


def content(shop: Platform) -> Content:
    """What each supplier table holds: its rows' (key, version) or dead letters, or None
    when the table is missing."""
    held: Content = {}
    for table in TABLES:
        name = f"bronze.{table}"
        if not shop.catalog.table_exists(name):
            held[table] = None
            continue
        rows = shop.catalog.load_table(name).scan().to_arrow().to_pylist()
        if table in KEYS:
            held[table] = sorted((r[KEYS[table]], r["updated_at"], r["_op"]) for r in rows)
        else:
            held[table] = sorted((r["resource"], r["record_id"], r["reason"]) for r in rows)
    return held


def refresh(shop: Platform) -> subprocess.Popen[bytes]:
    """``shoplake ingest api --full-refresh`` in a process of its own."""
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(shop.settings.data_dir)]
    return subprocess.Popen(
        [*command, "ingest", "api", "--full-refresh", "--no-progress"],
        env=child_environment(shop.settings),
        preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_points(shop: Platform) -> dict[str, Callable[[], Callable[[], bool]]]:
    """Moments to kill at, each a factory (called just before the run) of a check."""
    warehouse = shop.settings.data_dir / "warehouse" / "bronze"
    return {
        "at start": lambda: after(0.0),
        "after 1.5 s": lambda: after(1.5),  # pages of products read, none committed
        "products' new data file": lambda: new_file_in(warehouse / "supplier_products/data"),
        "reviews' new data file": lambda: new_file_in(warehouse / "supplier_reviews/data"),
        "reviews' new metadata": lambda: new_file_in(warehouse / "supplier_reviews/metadata"),
    }


@pytest.mark.slow
def test_a_full_refresh_killed_anywhere_leaves_each_table_old_or_new(
    classicmodels_source: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    shop = _shop(
        classicmodels_source,
        tmp_path / "shop",
        **{
            "supplier.page_size": 2,
            "supplier.checkpoint_pages": 3,  # a plain run commits often: a refresh must not
            "supplier.faults": {"latency_ms": 20.0},
        },
    )
    with running_supplier_api(shop.settings):
        assert shop.ingest_api().ok
        assert sum(_store(shop).apply_changes(25, seed=11).values()) == 25
        old = content(shop)
        schemas = {t: shop.catalog.load_table(f"bronze.{t}").schema() for t in TABLES}
        seen: dict[str, Content] = {}
        killed: set[str] = set()
        for name, point in kill_points(shop).items():
            for _attempt in range(3):  # a fast run may finish before the moment is seen
                if kill_when(refresh(shop), point()):
                    killed.add(name)
                    break
            seen[name] = content(shop)
        assert {"at start", "after 1.5 s", "products' new data file"} <= killed, killed

        report = shop.ingest_api(full_refresh=True)
        assert report.ok, [r.error for r in report.results]
        new = content(shop)
        expected, dead = _expected(shop)
    assert new["supplier_products"] != old["supplier_products"]
    for name, state in seen.items():
        for table in TABLES:
            assert state[table] in (old[table], new[table]), f"killed {name}: {table}"
    assert [r.commits for r in report.results] == [1, 1]  # one replace per table
    for table in TABLES:  # the schema already matched: no column was dropped and re-added
        assert shop.catalog.load_table(f"bronze.{table}").schema() == schemas[table]
    # Killed before its commit, a refresh left the old rows (not none, not a partial load).
    assert seen["after 1.5 s"] == old
    # The new content is the API's current records, each once, as inserts of batch 1.
    for resource, table in (("products", "supplier_products"), ("reviews", "supplier_reviews")):
        landed = shop.catalog.load_table(f"bronze.{table}").scan().to_arrow()
        assert set(landed.column("_op").to_pylist()) == {"insert"}
        assert set(landed.column("_batch_id").to_pylist()) == {1}
        assert landed.num_rows == len(expected[resource])
    assert {(r, i) for r, i, _ in new["supplier_dead_letters"]} == dead
