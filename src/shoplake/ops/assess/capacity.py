"""When an embedded default stops fitting: a measured quantity against a stated limit, and
the days until its growth reaches that limit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.ops.assess.units import size

if TYPE_CHECKING:
    from shoplake.ops.assess.model import Recorder, Severity

#: Days of headroom below which a limit is reported: high, medium, low.
HORIZONS: tuple[tuple[float, Severity], ...] = ((7, "high"), (30, "medium"), (180, "low"))


@dataclass(frozen=True)
class Capacity:
    """One embedded default's limit: ``current`` of ``limit`` (same unit), growing by
    ``per_day`` (None when the history is too short), and where to move when it is reached."""

    id: str
    component: str
    current: float
    limit: float
    per_day: float | None
    unit: str  # "bytes" or a count such as "events/s"
    source: str  # why the limit is where it is
    move_to: str
    measure: str = ""  # what ``current`` is, when the component's name does not say it

    def measured(self, value: float) -> str:
        """``value`` shown, after what it measures (``disk usage 3.1 GiB``)."""
        return f"{self.measure} {self.shown(value)}" if self.measure else self.shown(value)

    def shown(self, value: float) -> str:
        return size(value) if self.unit == "bytes" else f"{value:,.4g} {self.unit}"

    @property
    def is_rate(self) -> bool:
        """A rate (per second) is compared as it is, not projected."""
        return self.unit.endswith("/s")

    def days_left(self) -> float | None:
        """Days until the limit at the current growth; 0 when reached; None when not growing."""
        if self.current >= self.limit:
            return 0.0
        if not self.per_day or self.per_day <= 0:
            return None
        return (self.limit - self.current) / self.per_day


def judge(capacity: Capacity, rec: Recorder) -> None:
    """Record a finding when the limit is reached or within a horizon, else a passed check."""
    days = capacity.days_left()
    if capacity.is_rate:
        growth = "not projected (a rate)"
    elif capacity.per_day is None:
        growth = "unknown (less than a day of history)"
    else:
        growth = f"{capacity.shown(capacity.per_day)}/day"
    evidence = {
        "current": capacity.measured(capacity.current),
        "limit": capacity.shown(capacity.limit),
        "growth": growth,
        "days until the limit": "reached" if days == 0 else (f"{days:,.0f}" if days else "n/a"),
        "limit source": capacity.source,
    }
    severity = next((s for horizon, s in HORIZONS if days is not None and days <= horizon), None)
    if severity is None:
        rec.passed(
            capacity.component,
            f"{evidence['current']} of {evidence['limit']}, growth {growth} ({capacity.source})",
        )
        return
    when = "has reached its limit" if days == 0 else f"reaches its limit in {days:,.0f} days"
    rec.finding(
        capacity.id,
        severity,
        f"{capacity.component} {when}",
        evidence,
        f"move to {capacity.move_to}",
    )


def memory_bytes() -> int:
    """Physical memory: MemTotal of /proc/meminfo, or sysconf where there is no /proc."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
