"""Performance: how tables are laid out in files — small files, the size distribution, and
partition skew — from the current snapshot's manifests."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from shoplake.cli.output import plural
from shoplake.ops.assess.units import MIB, size

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context, DataFileInfo
    from shoplake.ops.assess.model import Recorder

#: A data file smaller than this is small (Parquet readers pay a fixed cost per file; Iceberg
#: plans per file), unless ``lake.target_file_mb`` is smaller still.
SMALL_FILE_MB = 8
#: A table with this many small files needs compaction now.
SMALL_FILES_LIMIT = 100
#: Largest partition over the median partition (rows) at which work is badly unbalanced…
SKEW_FACTOR = 10.0
#: …among at least this many partitions.
SKEW_MIN_PARTITIONS = 3
#: Upper bounds of the size distribution's buckets (MiB).
BUCKETS_MB = (1, 8, 64, 128, 512)


def check_file_layout(ctx: Context, rec: Recorder) -> None:
    """Small files per table (tables with at least :data:`SMALL_FILES_LIMIT` named with their
    counts), the lakehouse's file-size distribution, and skewed partitions."""
    target_mb = ctx.settings.lake.target_file_mb
    small_bytes = min(SMALL_FILE_MB, target_mb) * MIB
    crowded: dict[str, str] = {}
    distribution: Counter[str] = Counter()
    skewed: dict[str, str] = {}
    for name in ctx.table_names:
        files = ctx.files(name)
        if not files:
            continue
        sizes = [f.size for f in files]
        small = sum(s < small_bytes for s in sizes)
        distribution.update(_bucket(s) for s in sizes)
        if small >= SMALL_FILES_LIMIT:
            crowded[name] = (
                f"{small} of {len(files)} data files under {size(small_bytes)}, average "
                f"{size(sum(sizes) / len(sizes))}"
            )
        skew = _skew(files)
        if skew:
            skewed[name] = skew
    if crowded:
        counts = ", ".join(
            f"{name} ({detail.split()[0]} small files)" for name, detail in crowded.items()
        )
        rec.finding(
            "small-files",
            "medium",
            f"{plural(len(crowded), 'table')} with at least {SMALL_FILES_LIMIT} small files: "
            f"{counts}",
            crowded | {"lake.target_file_mb": target_mb},
            "compact them: `shoplake maintain " + " ".join(crowded) + "`",
        )
    else:
        rec.passed(
            "small files", f"no table has {SMALL_FILES_LIMIT} files under {size(small_bytes)}"
        )
    if distribution:
        rec.finding(
            "file-sizes",
            "info",
            f"{plural(sum(distribution.values()), 'data file')} in "
            f"{plural(len(ctx.table_names), 'table')} by size",
            {label: distribution[label] for label in _labels() if distribution[label]},
            f"aim for files near lake.target_file_mb ({target_mb} MiB) on large tables",
        )
    if skewed:
        rec.finding(
            "partition-skew",
            "low",
            f"{len(skewed)} partitioned table(s) with a partition over {SKEW_FACTOR:g}x the median",
            skewed,
            "choose a finer or different partition field (e.g. bucket(N, key) or day(ts))",
        )


def _labels() -> list[str]:
    bounds = (0, *BUCKETS_MB)
    return [f"{low}-{high} MiB" for low, high in zip(bounds, BUCKETS_MB, strict=False)] + [
        f">= {BUCKETS_MB[-1]} MiB"
    ]


def _bucket(file_size: int) -> str:
    labels = _labels()
    for label, bound in zip(labels, BUCKETS_MB, strict=False):
        if file_size < bound * MIB:
            return label
    return labels[-1]


def _skew(files: list[DataFileInfo]) -> str | None:
    """Largest vs median partition by rows, when partitioned and skewed."""
    rows: dict[str, int] = defaultdict(int)
    for f in files:
        rows[f.partition] += f.records
    if len(rows) < SKEW_MIN_PARTITIONS:
        return None
    median = statistics.median(rows.values())
    largest, count = max(rows.items(), key=lambda item: item[1])
    if median <= 0 or count / median < SKEW_FACTOR:
        return None
    return (
        f"largest partition {largest}: {count} rows vs median {median:g} "
        f"({count / median:.0f}x) over {len(rows)} partitions"
    )
