"""Where each engine stops fitting in memory: peak memory per scale, extrapolated linearly.

Method: for each (engine, workload), peak(scale) = a + b·scale. With two or more measured
scales, a and b are the least-squares line through the measured peaks; with one, a is the
process's peak after start-up (interpreter and engine imported; for Spark, the JVM's after the
session started) and b the rest of the peak divided by the scale. Spark's line is its JVM's
peak, the other engines' their Python process's. The engine stops fitting at the scale where
the line crosses its limit: the machine's RAM, or the engine's own configured limit (Spark's
driver heap on top of the JVM's start-up footprint, DuckDB's ``memory_limit``). The engine's
figure is its most demanding workload's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoplake.bench.engines.runner import EngineBenchResults, Measurement

#: DuckDB's default memory_limit is 80% of RAM (beyond it, it spills or fails).
DUCKDB_LIMIT_SHARE = 0.8


@dataclass(frozen=True)
class Fit:
    """The line through one (engine, workload)'s peaks and where it crosses the limit."""

    engine: str
    workload: str
    intercept: int
    slope: float  # bytes per unit of scale
    limit: int
    limit_name: str
    points: int

    @property
    def limit_scale(self) -> float | None:
        """The scale at which the peak reaches the limit (None: it does not grow)."""
        if self.slope <= 0:
            return None
        return max(0.0, (self.limit - self.intercept) / self.slope)


def engine_limit(engine: str, ram: int) -> tuple[int, str]:
    """The memory an engine may use here, and what that limit is."""
    if engine == "spark":
        from shoplake.bench.engines.spark_jobs import DRIVER_MEMORY

        return parse_size(DRIVER_MEMORY), f"JVM footprint + driver heap {DRIVER_MEMORY}"
    if engine == "duckdb":
        return int(ram * DUCKDB_LIMIT_SHARE), "DuckDB memory_limit (80% of RAM)"
    return ram, "machine RAM"


def fits(results: EngineBenchResults, ram: int) -> list[Fit]:
    """One line per (engine, workload) that ran at least once."""
    found = []
    for engine in results.measured_engines:
        limit, name = engine_limit(engine, ram)
        for workload in {m.workload for m in results.measurements if m.engine == engine}:
            runs = [
                m
                for m in results.measurements
                if (m.engine, m.workload) == (engine, workload) and m.ok
            ]
            if runs:
                intercept, slope = line(runs, jvm=engine == "spark")
                # The heap is on top of the JVM's own footprint (code, metaspace, threads).
                ceiling = limit + intercept if engine == "spark" else limit
                found.append(Fit(engine, workload, intercept, slope, ceiling, name, len(runs)))
    return sorted(found, key=lambda f: (f.engine, f.workload))


def line(runs: list[Measurement], *, jvm: bool) -> tuple[int, float]:
    """Intercept (bytes) and slope (bytes per unit of scale) of peak memory vs scale.

    For Spark the line is the JVM's peak (its limit is the JVM's heap), else the process's.
    """

    def peak(m: Measurement) -> int:
        return (m.jvm_peak or 0) if jvm else m.peak_rss

    scales = sorted({m.scale for m in runs})
    if len(scales) == 1:
        m = runs[0]
        base = (m.jvm_after_startup or 0) if jvm else m.rss_after_startup
        slope = (peak(m) - base) / m.scale
        return base, slope
    xs = [m.scale for m in runs]
    ys = [float(peak(m)) for m in runs]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return round(mean_y - slope * mean_x), slope


def parse_size(text: str) -> int:
    """``"2g"`` -> bytes (k, m, g, t suffixes, as Spark writes sizes)."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    text = text.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)
