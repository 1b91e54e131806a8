"""Iceberg tables whose FileIO is made on first use.

PyIceberg's FileIO for local and object-store paths is PyArrow's (importing pyarrow, numpy
and pyarrow.compute, ≈0.2 s). Commands that only read a table's metadata (``shoplake
tables``: snapshots, summaries, properties) never need it, so the catalog's lookups hand out
these tables and read the metadata file itself when it is a local one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from pyiceberg.io import load_file_io
from pyiceberg.serializers import Compressor, FromByteStream, FromInputFile
from pyiceberg.table import DataScan, IncrementalAppendScan, Table

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.typedef import Properties


def read_metadata(properties: Properties, location: str) -> TableMetadata:
    """The table metadata at ``location``: a local file read directly, others through the
    FileIO PyIceberg picks for the location."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        path = url2pathname(parsed.path) if parsed.scheme else location
        with open(path, "rb") as stream:
            compression = Compressor.get_compressor(location=location)
            return FromByteStream.table_metadata(stream, compression=compression)
    return FromInputFile.table_metadata(load_file_io(properties, location).new_input(location))


class LazyIoTable(Table):
    """A ``Table`` that makes its FileIO from ``io_properties`` when first asked for it."""

    def __init__(self, *, io_properties: Properties, **table: Any) -> None:
        self._io: FileIO | None = None
        self._io_properties = io_properties
        super().__init__(io=None, **table)  # type: ignore[arg-type]  # made on first use

    @property
    def io(self) -> FileIO:
        if self._io is None:
            self._io = load_file_io(self._io_properties, self.metadata_location)
        return self._io

    @io.setter
    def io(self, value: FileIO | None) -> None:
        self._io = value

    def scan(self, *args: Any, **kwargs: Any) -> DataScan:
        """PyIceberg's scan, whose reads raise CorruptTableError naming a broken file."""
        from shoplake.lake.scans import guarded

        return guarded(super().scan(*args, **kwargs), ".".join(self._identifier))

    def incremental_append_scan(self, *args: Any, **kwargs: Any) -> IncrementalAppendScan:
        """PyIceberg's incremental scan, whose reads name a broken file as :meth:`scan`'s do."""
        from shoplake.lake.scans import guarded

        return guarded(super().incremental_append_scan(*args, **kwargs), ".".join(self._identifier))
