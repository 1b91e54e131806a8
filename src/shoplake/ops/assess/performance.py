"""The performance pillar: file layout (small files, sizes, partition skew) and timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.ops.assess.file_layout import check_file_layout
from shoplake.ops.assess.timings import check_timings

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder


def assess_performance(ctx: Context, rec: Recorder) -> None:
    """Run every performance check on a readable lakehouse."""
    if ctx.readable(rec):
        check_file_layout(ctx, rec)
        check_timings(ctx, rec)
