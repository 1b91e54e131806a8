"""Table scans whose reads name a broken file (:func:`shoplake.lake.integrity.reading`).

The tables shoplake's catalog hands out (:class:`shoplake.lake.lazy_table.LazyIoTable`) turn
each PyIceberg scan into the guarded kind of it here: planning (manifest list, manifests) and
reading (data files, also batch by batch) raise ``CorruptTableError`` naming the table and
the file instead of PyIceberg's, PyArrow's or the Avro reader's own error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from pyiceberg.table import DataScan, IncrementalAppendScan

from shoplake.lake.integrity import CorruptTableError, find_broken_file, reading

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table.snapshots import Snapshot

S = TypeVar("S", DataScan, IncrementalAppendScan)


class _Guarded:
    """Reads of a scan, each inside :func:`reading` for the scan's table."""

    table_name: str
    table_metadata: Any
    io: Any

    def _reading(self) -> AbstractContextManager[None]:
        return reading(self.table_name, self.table_metadata, self.io, self._read_snapshot())

    def _read_snapshot(self) -> Snapshot | None:
        if isinstance(self, DataScan):
            return self.snapshot()
        to_snapshot = getattr(self, "to_snapshot_id", None)
        return None if to_snapshot is None else self.table_metadata.snapshot_by_id(to_snapshot)

    def update(self, **overrides: Any) -> Any:
        scan = super().update(**overrides)  # type: ignore[misc]
        scan.table_name = self.table_name
        return scan

    def plan_files(self) -> Iterable[Any]:
        with self._reading():
            return list(super().plan_files())  # type: ignore[misc]

    def to_arrow(self, *args: Any, **kwargs: Any) -> pa.Table:
        with self._reading():
            return super().to_arrow(*args, **kwargs)  # type: ignore[misc]

    def count(self) -> int:
        with self._reading():
            return super().count()  # type: ignore[misc]

    def to_arrow_batch_reader(self, *args: Any, **kwargs: Any) -> pa.RecordBatchReader:
        """The batches, read lazily; the files' footers are opened first, since a reader
        handed to another engine (DuckDB) would report a broken file as its own error."""
        import pyarrow as pa

        with self._reading():
            reader = super().to_arrow_batch_reader(*args, **kwargs)  # type: ignore[misc]
        broken = find_broken_file(self.table_metadata, self.io, self._read_snapshot())
        if broken is not None:
            raise CorruptTableError(self.table_name, broken)

        def batches() -> Iterator[pa.RecordBatch]:
            with self._reading():
                yield from reader

        return pa.RecordBatchReader.from_batches(reader.schema, batches())


class GuardedDataScan(_Guarded, DataScan):
    """A ``DataScan`` whose reads name a broken file."""


class GuardedIncrementalAppendScan(_Guarded, IncrementalAppendScan):
    """An ``IncrementalAppendScan`` whose reads name a broken file."""


_GUARDED: dict[type, type] = {
    DataScan: GuardedDataScan,
    IncrementalAppendScan: GuardedIncrementalAppendScan,
}


def guarded(scan: S, table_name: str) -> S:
    """``scan`` as its guarded kind, reading ``table_name`` (other kinds returned as they are).

    Made as PyIceberg's own ``update`` copies a scan: from its constructor's parameters."""
    from inspect import signature

    kind = _GUARDED.get(type(scan))
    if kind is None:
        return scan
    parameters = signature(type(scan).__init__).parameters.keys() - {"self"}
    copy = kind(**{name: getattr(scan, name) for name in parameters})
    copy.table_name = table_name
    return copy
