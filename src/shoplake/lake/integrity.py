"""Unreadable table files, named instead of crashed on.

A table is read in three steps, each from its own files: its current metadata JSON (the
catalog points at it), the manifest list and manifests of a snapshot (Avro), and the data
files they list (Parquet). A truncated, overwritten or deleted file makes PyIceberg, PyArrow,
DuckDB or pydantic fail with their own errors, which rarely say which file it was. Every
read of a table goes through :func:`reading` (the tables shoplake's catalog hands out wrap
their scans in it, the catalog its metadata reads, the DuckDB engine its file reads): on a
failure it looks for the broken file with :func:`find_broken_file` — footers only, so it is
cheap — and raises :class:`CorruptTableError` naming the table and that file, relative to the
warehouse. An error no broken file explains propagates unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlparse

from shoplake.errors import LakeError, ShoplakeError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.io import FileIO
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

FileKind = Literal["metadata file", "manifest list", "manifest", "data file", "delete file"]
_QUOTED_FILE = re.compile(r"""["']([^"']+\.parquet)["']""")
#: What to do about a broken file.
FIX = "restore it from a backup or rebuild the table"


@dataclass(frozen=True)
class BrokenFile:
    """One file of a table that cannot be read: what it is, where, and what is wrong."""

    kind: FileKind
    path: str  # relative to the warehouse when inside it
    problem: str
    older_snapshot: int | None = None  # set when the file belongs to a past snapshot only

    def __str__(self) -> str:
        past = f" (of past snapshot {self.older_snapshot})" if self.older_snapshot else ""
        return f"{self.kind}{past} {self.path} {self.problem}"


class CorruptTableError(LakeError):
    """A table cannot be read because one of its files is missing or damaged."""

    def __init__(
        self,
        table: str,
        broken: BrokenFile | None,
        detail: str = "",
        *,
        metadata_location: str | None = None,
    ) -> None:
        self.table = table
        self.broken = broken
        #: The broken metadata file's full location, when that is the broken file.
        self.metadata_location = metadata_location
        what = str(broken) if broken is not None else detail
        #: The problem alone: the table and the file, without what to do.
        self.problem = f"table {table} is unreadable: {what}"
        super().__init__(f"{self.problem}; {FIX} (`shoplake doctor warehouse` lists every one)")

    @property
    def public_message(self) -> str:
        """The problem without the file's path (for API clients, who cannot act on it)."""
        return unreadable_for_clients(self.table, self.broken.kind if self.broken else None)


def unreadable_for_clients(table: str, kind: FileKind | None = None) -> str:
    """That ``table`` is unreadable, said without the server's paths."""
    return (
        f"table {table} is unreadable: a {kind or 'file'} of it is missing or damaged; "
        "the operator can find it with `shoplake doctor warehouse`"
    )


def relative(path: str, warehouse: str | None) -> str:
    """``path`` relative to the warehouse when inside it, else as given (without ``file:``)."""
    local = unquote(urlparse(path).path) if path.startswith("file:") else path
    if warehouse:
        root = unquote(urlparse(warehouse).path) if warehouse.startswith("file:") else warehouse
        root = root.rstrip("/") + "/"
        if local.startswith(root):
            return local[len(root) :]
    return local


def _first_line(exc: BaseException) -> str:
    """The first sentence of the error's first line."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line.split(". ", 1)[0].rstrip(".")


def _problem(exc: BaseException, what: str) -> str:
    """How a file failed to read, in a few words."""
    if isinstance(exc, FileNotFoundError):
        return "is missing"
    return f"is not a readable {what} ({_first_line(exc)})"


def metadata_problem(exc: BaseException) -> str | None:
    """Why a metadata file could not be loaded, or None when ``exc`` is not about its content."""
    from pydantic import ValidationError
    from pyiceberg.exceptions import ValidationError as IcebergValidationError

    if isinstance(exc, IcebergValidationError) and isinstance(exc.__cause__, ValidationError):
        exc = exc.__cause__  # PyIceberg wraps pydantic's error in its own
    if isinstance(exc, FileNotFoundError):
        return "is missing"
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return f"is not Iceberg table metadata ({_first_line(exc)})"
        first, more = errors[0], len(errors) - 1
        if first["type"] == "json_invalid":
            return f"is not valid JSON ({first['msg']})"
        where = ".".join(str(p) for p in first["loc"])
        others = f", and {more} more" if more else ""
        return f"is not Iceberg table metadata ({where}: {first['msg']}{others})"
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | EOFError):
        return f"is not valid JSON ({_first_line(exc)})"
    if isinstance(exc, OSError | ValueError):
        return f"cannot be read ({_first_line(exc)})"
    return None


def check_metadata(table: str, location: str, warehouse: str | None, exc: Exception) -> None:
    """Raise CorruptTableError for a metadata file that failed to load with ``exc``, when
    ``exc`` says its content (or its existence) is the problem; return otherwise."""
    problem = metadata_problem(exc)
    if problem is not None:
        broken = BrokenFile("metadata file", relative(location, warehouse), problem)
        raise CorruptTableError(table, broken, metadata_location=location) from None


def last_readable_schema(exc: CorruptTableError) -> Schema | None:
    """For a table whose current metadata file is broken, the current schema of the newest
    other metadata file beside it that loads (local warehouses only), else None."""
    from pathlib import Path

    from shoplake.lake.lazy_table import read_metadata

    location = exc.metadata_location
    if location is None or urlparse(location).scheme not in ("", "file"):
        return None
    current = Path(unquote(urlparse(location).path))
    for candidate in sorted(current.parent.glob("*.metadata.json"), reverse=True):
        if candidate != current:
            try:
                return read_metadata({}, str(candidate)).schema()
            except Exception:  # damaged as well: try the one before
                continue
    return None


@dataclass(frozen=True)
class FilesCheck:
    """The data and delete files opened, and the first file that could not be."""

    opened: int
    broken: BrokenFile | None


def check_files(
    metadata: TableMetadata,
    io: FileIO,
    snapshot: Snapshot | None = None,
    *,
    history: bool = False,
    whole: bool = False,
) -> FilesCheck:
    """Open the files of ``snapshot`` (default: the current one) up to the first that fails:
    its manifest list, manifests, then each data and delete file's Parquet footer (with
    ``whole``, every page of it, batch by batch). With ``history``, also every other
    snapshot's manifest list and manifests (what maintenance reads to find unreferenced
    files)."""
    import pyarrow.parquet as pq
    from pyiceberg.manifest import ManifestContent

    snapshot = snapshot if snapshot is not None else metadata.current_snapshot()
    if snapshot is None:
        return FilesCheck(0, None)
    warehouse = io.properties.get("warehouse")
    opened = 0

    def failed(
        kind: FileKind, path: str, exc: BaseException, what: str, past: Snapshot
    ) -> FilesCheck:
        older = past.snapshot_id if past is not snapshot else None
        broken = BrokenFile(kind, relative(path, warehouse), _problem(exc, what), older)
        return FilesCheck(opened, broken)

    others = [s for s in metadata.snapshots if s.snapshot_id != snapshot.snapshot_id]
    seen: set[str] = set()
    for each in [snapshot, *others] if history else [snapshot]:
        try:
            manifests = each.manifests(io)
        except Exception as exc:  # the Avro reader's errors: EOFError, ValueError, OSError…
            return failed("manifest list", each.manifest_list, exc, "Avro file", each)
        for manifest in manifests:
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            try:
                entries = manifest.fetch_manifest_entry(io, discard_deleted=True)
            except Exception as exc:
                return failed("manifest", manifest.manifest_path, exc, "Avro file", each)
            if each is not snapshot:
                continue  # an older snapshot's data files: no reader opens them
            kind: FileKind = (
                "delete file" if manifest.content == ManifestContent.DELETES else "data file"
            )
            for entry in entries:
                path = entry.data_file.file_path
                try:
                    with io.new_input(path).open() as stream:
                        if whole:
                            for _ in pq.ParquetFile(stream).iter_batches():
                                pass
                        else:
                            pq.read_metadata(stream)
                except Exception as exc:
                    return failed(kind, path, exc, "Parquet file", each)
                opened += 1
    return FilesCheck(opened, None)


def find_broken_file(
    metadata: TableMetadata, io: FileIO, snapshot: Snapshot | None = None
) -> BrokenFile | None:
    """The first file of ``snapshot`` (default: the current one) that cannot be opened."""
    return check_files(metadata, io, snapshot).broken


def verify(table: str, iceberg: Table) -> int:
    """Raise CorruptTableError when a file of the table's current snapshot, or a manifest
    list or manifest of an older one, cannot be opened; else return how many data and
    delete files were opened."""
    checked = check_files(iceberg.metadata, iceberg.io, history=True)
    if checked.broken is not None:
        raise CorruptTableError(table, checked.broken)
    return checked.opened


@dataclass(frozen=True)
class LakeCheck:
    """What :func:`check_tables` read, and each broken table's line."""

    tables: int
    files: int
    broken: list[CorruptTableError]


def check_tables(catalog: Catalog) -> LakeCheck:
    """Load every table's current metadata and open its manifests and data-file footers."""
    from shoplake.lake.catalog import list_tables

    names = list_tables(catalog)
    files, broken = 0, []
    for name in names:
        try:
            files += verify(name, catalog.load_table(name))
        except CorruptTableError as exc:
            broken.append(exc)
    return LakeCheck(len(names), files, broken)


@contextmanager
def reading(
    table: str, metadata: TableMetadata, io: FileIO, snapshot: Snapshot | None = None
) -> Iterator[None]:
    """Run a read of ``table``; a failure a broken file explains becomes CorruptTableError
    naming it, anything else propagates as it was."""
    try:
        yield
    except ShoplakeError:
        raise
    except Exception as exc:
        broken = find_broken_file(metadata, io, snapshot)
        if broken is None and _read_error(exc):  # a damaged page: read the files through
            broken = check_files(metadata, io, snapshot, whole=True).broken
        if broken is None:
            raise
        raise CorruptTableError(table, broken) from exc


def named_in_error(exc: BaseException, tables: Mapping[str, Table]) -> CorruptTableError | None:
    """The table whose file another engine's error names (DuckDB: ``Failed to read file
    "…/x.parquet"``), with its broken file found by reading its files through; None when the
    error names none of their files or every file reads."""
    named = set(_QUOTED_FILE.findall(str(exc)))
    for name, table in tables.items():
        root = unquote(urlparse(table.location()).path).rstrip("/") + "/"
        if any(path.startswith(root) for path in named):
            broken = check_files(table.metadata, table.io, whole=True).broken
            if broken is not None:
                return CorruptTableError(name, broken)
    return None


def _read_error(exc: BaseException) -> bool:
    """Whether ``exc`` is how a reader reports bytes it cannot decode (PyArrow's errors, OS
    and end-of-file errors), rather than a mistake in what was asked."""
    return isinstance(exc, OSError | EOFError) or type(exc).__module__.startswith("pyarrow")
