"""``shoplake assess``: security, reliability, performance and scalability of one installation,
as findings with evidence and a one-line fix each.

Each pillar is one module with one entry point taking the shared :class:`Context` and a
:class:`Recorder`; :func:`assess` runs the pillars asked for and returns the :class:`Report`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from shoplake.ops.assess.model import PILLARS, Finding, Pillar, Recorder, Report

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.config import Settings
    from shoplake.ops.assess.context import Context

__all__ = ["PILLARS", "Finding", "Pillar", "Report", "assess"]


def _runners() -> dict[Pillar, Callable[[Context, Recorder], None]]:
    from shoplake.ops.assess.performance import assess_performance
    from shoplake.ops.assess.reliability import assess_reliability
    from shoplake.ops.assess.scalability import assess_scalability
    from shoplake.ops.assess.security import assess_security

    return {
        "security": assess_security,
        "reliability": assess_reliability,
        "performance": assess_performance,
        "scalability": assess_scalability,
    }


def assess(
    settings: Settings, pillars: Sequence[Pillar] | None = None, catalog: Catalog | None = None
) -> Report:
    """Assess the installation ``settings`` describe, pillar by pillar (default: all).

    ``catalog`` reuses an open lakehouse catalog; without it one is opened from the settings,
    and a lakehouse that cannot be opened becomes a finding rather than an error.
    """
    from shoplake.ops.assess.context import Context

    chosen = [p for p in PILLARS if not pillars or p in pillars]
    report = Report(pillars=chosen)
    context = Context(settings, catalog)
    runners = _runners()
    for pillar in chosen:
        runners[pillar](context, report.recorder(pillar))
    return report
