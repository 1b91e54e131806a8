"""The reliability pillar: snapshot retention, idempotency state and dead-letter growth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.ops.assess.dead_letters import check_dead_letters
from shoplake.ops.assess.idempotency import check_state
from shoplake.ops.assess.retention import check_retention

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder


def assess_reliability(ctx: Context, rec: Recorder) -> None:
    """Run every reliability check on a readable lakehouse."""
    if ctx.readable(rec):
        check_retention(ctx, rec)
        check_state(ctx, rec)
        check_dead_letters(ctx, rec)
