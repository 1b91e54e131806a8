"""PNG charts of the engine benchmark: time vs scale per workload, peak memory vs scale."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.bench.engines.common import WORKLOADS

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from shoplake.bench.engines.runner import EngineBenchResults, Measurement


def write_charts(results: EngineBenchResults, folder: Path) -> list[Path]:
    """One ``time_<workload>.png`` per workload and one ``memory.png``; return their paths
    (none without matplotlib, which comes with the bench extra: the report has no charts)."""
    try:
        import matplotlib
    except ImportError:
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for workload in WORKLOADS:
        figure, axes = plt.subplots(figsize=(6, 4))
        _plot(axes, results, workload, lambda m: m.best, "best wall time (s)")
        axes.set_title(f"{workload}: wall time vs scale (best of {results.repeat})")
        paths.append(_save(figure, folder / f"time_{workload}.png"))
    figure, grid = plt.subplots(2, 2, figsize=(10, 7))
    for axes, workload in zip(grid.flat, WORKLOADS, strict=True):
        _plot(axes, results, workload, lambda m: m.peak_total / 2**20, "peak memory (MiB)")
        axes.set_title(workload)
    figure.suptitle("Peak memory vs scale (Spark: Python process + JVM)")
    paths.append(_save(figure, folder / "memory.png"))
    return paths


def _plot(
    axes: Axes,
    results: EngineBenchResults,
    workload: str,
    value: Callable[[Measurement], float],
    label: str,
) -> None:
    for engine in results.measured_engines:
        runs = [
            m for m in results.measurements if (m.engine, m.workload) == (engine, workload) and m.ok
        ]
        runs.sort(key=lambda m: m.scale)
        if runs:
            axes.plot([m.scale for m in runs], [value(m) for m in runs], marker="o", label=engine)
    if len(results.scales) > 1:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_xticks(list(results.scales), [f"{s:g}" for s in results.scales])
    axes.set_xlabel("scale")
    axes.set_ylabel(label)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()


def _save(figure: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
