"""Rewrite a table's data files in one Iceberg ``replace`` snapshot.

Iceberg records a change that swaps files without changing rows (compaction) as a ``replace``
snapshot; engines then know nothing was added or removed (Spark's streaming reads and
PyIceberg's ``incremental_append_scan`` skip it). PyIceberg 0.12 has no public API for that:
``delete`` + ``append`` commits two snapshots, ``overwrite`` two as well, and
``update_snapshot().overwrite()`` one ``overwrite``. :class:`_ReplaceFiles` is that last
producer recording ``replace``, with the conflict checks of Java's ``RewriteFiles``: the
rewritten files must still be live, while rows appended concurrently simply stay.

The new files get the Arrow types readers saw before (``string``, not ``large_string``):
PyIceberg reads 32-bit-offset types from files written with them but streams batches with
64-bit offsets, and writing those batches back would change what every reader gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table


def reader_schema(table: Table) -> pa.Schema:
    """The table's schema as Arrow with 32-bit offsets (``string``, ``binary``, ``list``) and
    the field ids, i.e. the types a PyIceberg ``to_arrow()`` gives for shoplake's files."""
    from pyiceberg.io.pyarrow import _pyarrow_schema_ensure_small_types, schema_to_pyarrow

    return _pyarrow_schema_ensure_small_types(schema_to_pyarrow(table.schema()))


def _producer_class() -> type[Any]:
    from pyiceberg.table.snapshots import Operation, Summary
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    class _ReplaceFiles(_OverwriteFiles):
        """An overwrite recorded as ``replace``: data files swapped, rows unchanged."""

        def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
            # PyIceberg computes totals only for append/overwrite/delete: compute them as an
            # overwrite (the same file arithmetic), then record the operation it really is.
            self._operation = Operation.OVERWRITE
            try:
                summary = super()._summary(snapshot_properties or {})
            finally:
                self._operation = Operation.REPLACE
            return Summary(Operation.REPLACE, **summary.additional_properties)

        def _validate_concurrency(self) -> None:
            from pyiceberg.table.update.validate import (
                _validate_data_files_exist,
                _validate_no_new_deletes_for_data_files,
            )

            window = self._commit_window
            if window is None or window.is_empty() or window.head is None:
                return
            table = self._transaction._table
            files = self._deleted_data_files
            _validate_data_files_exist(table, window.head, files, window.base)
            _validate_no_new_deletes_for_data_files(table, window.head, None, files, window.base)

    return _ReplaceFiles


def rewrite_files(table: Table, summary: dict[str, str]) -> int:
    """Rewrite every current data file of ``table`` into as few files as its target size
    allows, in one ``replace`` snapshot carrying ``summary``; returns the files written.

    Rows and their Arrow types are unchanged; rows appended concurrently are kept as they are.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    from pyiceberg.table.snapshots import Operation

    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0
    scan = table.scan(snapshot_id=snapshot.snapshot_id)
    old_files = [task.file for task in scan.plan_files()]
    schema = reader_schema(table)
    batches = (batch.cast(schema) for batch in scan.to_arrow_batch_reader())
    data: Any = pa.RecordBatchReader.from_batches(schema, batches)
    if not table.spec().is_unpartitioned():
        data = data.read_all()  # PyIceberg streams writes only into unpartitioned tables
    written = 0
    with table.transaction() as tx:
        producer = _producer_class()(
            operation=Operation.REPLACE,
            transaction=tx,
            io=table.io,
            snapshot_properties=summary,
        )
        with producer:
            for data_file in old_files:
                producer.delete_data_file(data_file)
            for data_file in _dataframe_to_data_files(
                tx.table_metadata, data, table.io, producer.commit_uuid
            ):
                producer.append_data_file(data_file)
                written += 1
    return written
