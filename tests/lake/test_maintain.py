"""`maintain` compacts, expires and cleans without changing contents or ingestion state."""

from __future__ import annotations

from pathlib import Path

from shoplake.platform import Platform
from tests.lake.conftest import change_source
from tests.support.lakehouse import bronze_rows


def _three_more_batches(tiny: Platform) -> None:
    for i in range(4, 7):
        change_source(tiny, f"INSERT INTO items VALUES ({i}, 'thing{i}', {i}.25, NULL)")
        assert tiny.ingest().rows == 1


def test_maintain_compacts_and_expires_without_changing_contents(tiny: Platform) -> None:
    _three_more_batches(tiny)
    table = tiny.catalog.load_table("bronze.items")
    rows_before = bronze_rows(tiny, "items", drop=())
    state_before = table.properties["shoplake.ingest.state"]
    assert len(table.snapshots()) == 4

    tiny.settings.lake.snapshot_retention_hours = 0
    (result,) = tiny.maintain(orphan_min_age_seconds=0)

    assert (result.table, result.rows, result.files_before, result.files_after) == (
        "bronze.items",
        6,
        4,
        1,
    )
    table.refresh()
    assert len(table.snapshots()) == 1
    assert table.current_snapshot().summary["shoplake.maintenance"] == "compaction"
    assert bronze_rows(tiny, "items", drop=()) == rows_before
    assert table.properties["shoplake.ingest.state"] == state_before
    # The files compaction replaced are no longer referenced and were removed.
    data_dir = Path(table.location().removeprefix("file://")) / "data"
    assert len([p for p in data_dir.rglob("*.parquet")]) == 1
    # The watermark survived: nothing to ingest, and new changes still land once.
    assert tiny.ingest().rows == 0
    change_source(tiny, "UPDATE items SET price = 5.00 WHERE id = 2")
    assert tiny.ingest().results[0].updates == 1


def test_maintain_keeps_recent_snapshots_by_default(tiny: Platform) -> None:
    _three_more_batches(tiny)
    (result,) = tiny.maintain()
    assert result.snapshots_expired == 0
    assert result.orphans_removed == 0  # replaced files are younger than the default hour


def test_orphans_from_an_interrupted_write_are_removed(tiny: Platform) -> None:
    table = tiny.catalog.load_table("bronze.items")
    data_dir = Path(table.location().removeprefix("file://")) / "data"
    orphan = data_dir / "00000-0-interrupted.parquet"
    orphan.write_bytes(b"PAR1 partial")
    (result,) = tiny.maintain(orphan_min_age_seconds=0)
    assert result.orphans_removed == 1
    assert not orphan.exists()
    assert bronze_rows(tiny, "items")  # the committed file is untouched


def test_tables_lists_rows_files_snapshots_and_watermarks(tiny: Platform) -> None:
    _three_more_batches(tiny)
    (stats,) = tiny.tables()
    assert (stats.name, stats.rows, stats.data_files, stats.snapshots) == ("bronze.items", 6, 4, 4)
    assert stats.bytes > 0
    assert stats.watermark is None  # a snapshot-strategy table has no cursor watermark
    assert stats.last_commit is not None and stats.last_commit.endswith("+00:00")
