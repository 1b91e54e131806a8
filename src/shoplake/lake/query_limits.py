"""How much of a query's result is kept: at most ``max_rows`` rows and ``max_bytes`` bytes.

The byte count is the size of the rows as JSON objects (UTF-8, compact), as the API sends them
and the CLI prints them with ``--output json`` — the same cut for both. A result is cut at a whole
row: what fits is kept and flagged ``truncated_by="bytes"`` (or ``"rows"``), never an error, so a
caller always learns the result was cut and why. A value too large to fit (``repeat('x',
250000000)``) is measured from its Arrow length and never turned into Python text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from shoplake.lake.query_json import json_rows, unique_names

if TYPE_CHECKING:
    import pyarrow as pa

TruncatedBy = Literal["rows", "bytes"]


@dataclass(frozen=True)
class Collected:
    """The rows kept, and what cut the result short (None when nothing was left out)."""

    table: pa.Table
    truncated_by: TruncatedBy | None


def collect(
    reader: pa.RecordBatchReader, *, max_rows: int, max_bytes: int | None = None
) -> Collected:
    """Read ``reader`` until ``max_rows`` rows or ``max_bytes`` bytes of JSON rows are kept.

    One row past the row cap is read to tell a cut result from one that ends exactly there.
    """
    import pyarrow as pa

    names = unique_names(reader.schema.names)
    kept: list[pa.RecordBatch] = []
    rows = size = 0
    cut: TruncatedBy | None = None
    for batch in reader:
        room = max_rows - rows
        head = batch.slice(0, room)
        fit, used = (
            (head.num_rows, 0) if max_bytes is None else _fitting(head, names, max_bytes - size)
        )
        if fit:
            kept.append(head.slice(0, fit))
            rows, size = rows + fit, size + used
        if fit < head.num_rows:
            cut = "bytes"
            break
        if batch.num_rows > room:
            cut = "rows"
            break
    return Collected(pa.Table.from_batches(kept, schema=reader.schema), cut)


def json_size(row: dict[str, Any]) -> int:
    """Bytes of one row as compact UTF-8 JSON, with the comma that separates it."""
    text = json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return len(text.encode("utf-8", "surrogatepass")) + 1


def _fitting(batch: pa.RecordBatch, names: list[str], budget: int) -> tuple[int, int]:
    """How many leading rows of ``batch`` fit in ``budget`` bytes, and their bytes."""
    import pyarrow as pa

    candidates = _within_lower_bound(batch, names, budget)
    used = 0
    rows = json_rows(pa.Table.from_batches([batch.slice(0, candidates)]))
    for index, row in enumerate(rows):
        size = json_size(row)
        if used + size > budget:
            return index, used
        used += size
    return candidates, used


def _within_lower_bound(batch: pa.RecordBatch, names: list[str], budget: int) -> int:
    """Leading rows whose smallest possible JSON size fits in ``budget``: key names and
    punctuation, at least one character per value, and the bytes of every top-level string
    (hex doubles binary) — computed in Arrow, so a huge value is never copied to Python."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if batch.num_rows == 0:
        return 0
    floor = json_size(dict.fromkeys(names, 0))
    lower = np.full(batch.num_rows, floor, dtype=np.int64)
    for column in batch.columns:
        kind = column.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
        if text or binary:
            lengths = pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
            lower += lengths.astype(np.int64) * (2 if binary else 1)
    return int(np.searchsorted(np.cumsum(lower), budget, side="right"))
