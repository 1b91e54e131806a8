"""`maintain` compacts, expires and cleans without changing contents or ingestion state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from shoplake.lake.snapshots import (
    data_committed_ms,
    is_maintenance,
    operation,
    summary_int,
    summary_value,
)
from shoplake.platform import Platform
from tests.lake.conftest import change_source
from tests.support.lakehouse import bronze_rows

if TYPE_CHECKING:
    from pyiceberg.table import Table


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


def _reader_types(table: Table) -> tuple[pa.Schema, pa.Schema]:
    """What PyIceberg readers get: a whole-table read and a streamed read."""
    return table.scan().to_arrow().schema, table.scan().to_arrow_batch_reader().schema


def test_compaction_is_one_replace_snapshot_that_keeps_types_and_figures(tiny: Platform) -> None:
    _three_more_batches(tiny)
    table = tiny.catalog.load_table("bronze.items")
    types_before = _reader_types(table)
    assert types_before[0].field("name").type == pa.string()
    rows_before = bronze_rows(tiny, "items", drop=())
    (stats_before,) = tiny.tables()

    (result,) = tiny.maintain()  # default retention: nothing expires

    table.refresh()
    assert (result.files_before, result.files_after, result.snapshots_expired) == (4, 1, 0)
    assert len(table.snapshots()) == 5  # one snapshot more, not a delete and an append
    compaction = table.current_snapshot()
    assert operation(compaction) == "replace"
    assert summary_value(compaction, "shoplake.maintenance") == "compaction"
    assert summary_int(compaction, "total-records") == 6
    assert summary_int(compaction, "deleted-data-files") == 4
    assert _reader_types(table) == types_before  # string stays string, not large_string
    assert bronze_rows(tiny, "items", drop=()) == rows_before
    (stats,) = tiny.tables()
    # Compaction moves no row: the table is no fresher than its last ingest.
    assert (stats.rows, stats.data_files, stats.last_commit) == (6, 1, stats_before.last_commit)


def test_last_commit_survives_the_expiry_of_the_commits_before_a_compaction(
    tiny: Platform,
) -> None:
    _three_more_batches(tiny)
    table = tiny.catalog.load_table("bronze.items")
    last_ingest_ms = table.current_snapshot().timestamp_ms
    (before,) = tiny.tables()
    tiny.settings.lake.snapshot_retention_hours = 0
    tiny.settings.lake.min_snapshots_to_keep = 1
    tiny.maintain()
    table.refresh()
    assert table.current_snapshot().timestamp_ms > last_ingest_ms
    assert data_committed_ms(table) == last_ingest_ms  # to the millisecond
    (after,) = tiny.tables()
    assert (after.snapshots, after.rows, after.last_commit) == (1, 6, before.last_commit)


def test_a_second_maintain_changes_nothing(tiny: Platform) -> None:
    _three_more_batches(tiny)
    tiny.maintain()
    snapshots = len(tiny.catalog.load_table("bronze.items").snapshots())
    (result,) = tiny.maintain()
    assert (result.files_before, result.files_after, result.rows) == (1, 1, 6)
    assert len(tiny.catalog.load_table("bronze.items").snapshots()) == snapshots


def test_rows_appended_while_compacting_are_kept(tiny: Platform) -> None:
    """A commit that lands between planning and committing the rewrite is kept as it is."""
    from pyiceberg.table.snapshots import Operation

    from shoplake.lake import rewrite

    _three_more_batches(tiny)
    table = tiny.catalog.load_table("bronze.items")
    other = tiny.catalog.load_table("bronze.items")
    extra = table.scan(limit=1).to_arrow().cast(rewrite.reader_schema(table))
    base_class = rewrite._producer_class()

    class AppendFirst(base_class):  # type: ignore[misc, valid-type]
        def _commit(self) -> Any:
            if not getattr(self, "raced", False):
                self.raced = True
                other.append(extra)  # a concurrent writer wins the race
            return super()._commit()

    original = rewrite._producer_class
    rewrite._producer_class = lambda: AppendFirst  # type: ignore[assignment]
    try:
        rewrite.rewrite_files(table, {"shoplake.maintenance": "compaction"})
    finally:
        rewrite._producer_class = original  # type: ignore[assignment]
    table.refresh()
    operations = [s.summary.operation for s in table.snapshots()[-2:] if s.summary]
    assert operations == [Operation.APPEND, Operation.REPLACE]
    assert table.scan().to_arrow().num_rows == 7


def test_summaries_without_the_usual_keys_read_as_defaults() -> None:
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary

    def snapshot(summary: Summary | None) -> Snapshot:
        return Snapshot(
            **{"snapshot-id": 1, "manifest-list": "m.avro", "timestamp-ms": 0}, summary=summary
        )

    bare = snapshot(Summary(Operation.DELETE))
    # PyIceberg's Summary answers None for a missing key, so .get never falls back:
    assert bare.summary is not None and bare.summary.get("added-records", 0) is None
    assert summary_int(bare, "added-records") == 0
    assert summary_int(bare, "total-records", 7) == 7
    assert summary_int(snapshot(None), "total-records") == 0
    assert summary_int(None, "total-records") == 0
    odd = snapshot(Summary(Operation.APPEND, **{"total-records": "many"}))
    assert summary_int(odd, "total-records") == 0
    assert summary_value(bare, "shoplake.maintenance") is None
    assert (operation(bare), operation(snapshot(None))) == ("delete", "")
    assert not is_maintenance(bare)
    assert is_maintenance(snapshot(Summary(Operation.REPLACE)))


def test_maintain_repairs_the_types_an_earlier_compaction_widened(tiny: Platform) -> None:
    """Earlier versions compacted with PyIceberg's streamed batches, storing large_string:
    readers then got large_string, and joins against string columns failed."""
    from pyiceberg.expressions import AlwaysTrue

    table = tiny.catalog.load_table("bronze.items")
    rows_before = bronze_rows(tiny, "items", drop=())
    with table.transaction() as tx:  # what the old compaction did
        tx.delete(AlwaysTrue())
        tx.append(table.scan().to_arrow_batch_reader())
    table.refresh()
    assert table.scan().to_arrow().schema.field("name").type == pa.large_string()

    (result,) = tiny.maintain()
    table.refresh()
    assert (result.files_before, result.files_after, result.rows) == (1, 1, 3)
    assert operation(table.current_snapshot()) == "replace"
    assert table.scan().to_arrow().schema.field("name").type == pa.string()
    assert bronze_rows(tiny, "items", drop=()) == rows_before
    tiny.maintain()  # repaired: nothing left to rewrite
    assert len(tiny.catalog.load_table("bronze.items").snapshots()) == len(table.snapshots())


def test_a_typo_among_the_names_is_refused_before_any_table_is_maintained(
    tiny: Platform,
) -> None:
    from shoplake.errors import TableNotFoundError

    _three_more_batches(tiny)
    table = tiny.catalog.load_table("bronze.items")
    snapshot = table.current_snapshot()
    assert snapshot is not None
    with pytest.raises(TableNotFoundError) as error:
        tiny.maintain(["bronze.items", "bronze.itms", "silver.nope"], orphan_min_age_seconds=0)
    assert str(error.value) == (
        "no lakehouse table 'bronze.itms' — did you mean bronze.items?; "
        "no lakehouse table 'silver.nope' (tables: bronze.items)"
    )
    table.refresh()  # bronze.items was not compacted: still its four ingest snapshots
    assert table.current_snapshot() == snapshot and len(table.snapshots()) == 4
