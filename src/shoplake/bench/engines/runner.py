"""Run the engine benchmark: inputs per scale, one fresh worker process per measurement,
every output checked against the published table before its time counts."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.bench.engines.common import COMPARED_COLUMNS, ENGINES, WORKLOADS

if TYPE_CHECKING:
    from shoplake.bench.engines.inputs import ScaleInputs
    from shoplake.bench.engines.storage import StorageResult
    from shoplake.config import Settings

REPEAT = 3
SCALES: tuple[float, ...] = (0.1, 1.0, 5.0)
#: A worker taking longer than this is stopped and reported as failed.
WORKER_TIMEOUT = 3600.0


@dataclass
class Measurement:
    """One (engine, workload, scale) run in its own process."""

    engine: str
    workload: str
    scale: float
    seconds: list[float] = field(default_factory=list)
    rows: int = 0
    import_seconds: float = 0.0
    startup_seconds: float | None = None
    rss_after_startup: int = 0
    peak_rss: int = 0
    jvm_peak: int | None = None
    jvm_after_startup: int | None = None
    error: str | None = None
    error_kind: str | None = None  # "oom" | "error" | "timeout"

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def peak_total(self) -> int:
        """Peak memory of the Python process plus, for Spark, the JVM's."""
        return self.peak_rss + (self.jvm_peak or 0)


@dataclass
class EngineBenchResults:
    """Everything the report shows."""

    scales: tuple[float, ...]
    engines: tuple[str, ...]
    repeat: int
    started: dt.datetime
    inputs: dict[float, ScaleInputs] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    storage: dict[float, list[StorageResult]] = field(default_factory=dict)
    finished: dt.datetime | None = None
    load_average: tuple[float, float] = (0.0, 0.0)

    @property
    def measured_engines(self) -> list[str]:
        return [e for e in self.engines if e not in self.skipped]

    def get(self, engine: str, workload: str, scale: float) -> Measurement | None:
        for m in self.measurements:
            if (m.engine, m.workload, m.scale) == (engine, workload, scale):
                return m
        return None


def run_engines_benchmark(
    settings: Settings,
    *,
    scales: tuple[float, ...] = SCALES,
    engines: tuple[str, ...] = ENGINES,
    report: Path,
    repeat: int = REPEAT,
) -> Path:
    """Measure every engine on every workload at every scale; write the report and charts.

    Charts go to ``<report's folder>/<report's stem>/``. Raises
    :class:`~shoplake.bench.engines.verify.MismatchError` when an engine's output differs
    from the published table.
    """
    from shoplake.bench.engines.charts import write_charts
    from shoplake.bench.engines.inputs import build_inputs
    from shoplake.bench.engines.report import render_report
    from shoplake.bench.engines.storage import compare_storage
    from shoplake.bench.ingest import _progress
    from shoplake.bench.workspace import write_report
    from shoplake.errors import ConfigError

    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ConfigError(f"unknown engines {unknown}; choose from {', '.join(ENGINES)}")
    if not scales or min(scales) <= 0:
        raise ConfigError(f"scales must be positive numbers, got {list(scales)}")
    results = EngineBenchResults(tuple(scales), tuple(engines), repeat, dt.datetime.now(dt.UTC))
    started_load = _load_average()
    results.skipped = {e: r for e in engines if (r := skip_reason(e))}
    for engine, reason in results.skipped.items():
        _progress(f"{engine}: skipped ({reason})")
    for scale in results.scales:
        inputs = build_inputs(settings, scale)
        results.inputs[scale] = inputs
        runs_dir = Path(inputs.paths["fact_orders"]).parent.parent / "engine-runs"
        for workload in WORKLOADS:
            for engine in results.measured_engines:
                measurement = measure(engine, workload, inputs, runs_dir, repeat)
                results.measurements.append(measurement)
                _progress(_summary(measurement))
        results.storage[scale] = compare_storage(inputs, runs_dir / "storage", repeat=repeat)
    results.finished = dt.datetime.now(dt.UTC)
    results.load_average = (started_load, _load_average())
    charts = write_charts(results, report.absolute().parent / report.stem)
    return write_report(report, render_report(results, settings, report, charts))


def skip_reason(engine: str) -> str | None:
    """Why ``engine`` cannot run here, or None."""
    from shoplake.bench.engines.worker import LIBRARIES

    module = LIBRARIES[engine].split(".")[0]
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if engine == "spark" and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java: neither JAVA_HOME nor java on PATH"
    return None


def measure(
    engine: str,
    workload: str,
    inputs: ScaleInputs,
    runs_dir: Path,
    repeat: int,
    *,
    module: str | None = None,
) -> Measurement:
    """One worker process; its first output checked against the published table.

    ``module`` replaces the engine's jobs module (``shoplake.bench.engines.<engine>_jobs``).
    """
    import pyarrow.parquet as pq

    from shoplake.bench.engines.verify import check_equal
    from shoplake.services import child_setup

    runs_dir.mkdir(parents=True, exist_ok=True)
    stem = runs_dir / f"{engine}-{workload}"
    output, result = Path(f"{stem}.parquet"), Path(f"{stem}.result.json")
    spec: dict[str, Any] = {
        "engine": engine,
        "workload": workload,
        "inputs": inputs.inputs(),
        "repeat": repeat,
        "module": module or f"shoplake.bench.engines.{engine}_jobs",
        "output": str(output),
        "result": str(result),
    }
    result.unlink(missing_ok=True)
    Path(f"{stem}.spec.json").write_text(json.dumps(spec))
    command = [sys.executable, "-m", "shoplake.bench.engines.worker", f"{stem}.spec.json"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    measurement = Measurement(engine, workload, inputs.scale)
    try:
        done = subprocess.run(
            command,
            preexec_fn=child_setup,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        measurement.error, measurement.error_kind = f"over {WORKER_TIMEOUT:.0f} s", "timeout"
        return measurement
    record = _read_result(result, done)
    _fill(measurement, record)
    if measurement.ok:
        check_equal(
            engine,
            workload,
            pq.read_table(output),
            pq.read_table(inputs.expected(workload)),
            COMPARED_COLUMNS[workload],
        )
    return measurement


def _read_result(path: Path, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    if path.exists():
        return dict(json.loads(path.read_text()))
    if done.returncode == -signal.SIGKILL:
        reason = "killed by SIGKILL (most likely the kernel's out-of-memory killer)"
        return {"error": reason, "error_kind": "oom"}
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return {"error": f"worker exited {done.returncode}: {tail}", "error_kind": "error"}


def _fill(measurement: Measurement, record: dict[str, Any]) -> None:
    for name in (
        "seconds",
        "rows",
        "import_seconds",
        "startup_seconds",
        "rss_after_startup",
        "peak_rss",
        "jvm_peak",
        "jvm_after_startup",
        "error",
        "error_kind",
    ):
        if name in record:
            setattr(measurement, name, record[name])


def _summary(m: Measurement) -> str:
    where = f"scale {m.scale:g} {m.engine:<6} {m.workload:<18}"
    if not m.ok:
        return f"{where} FAILED ({m.error_kind}): {m.error}"
    return (
        f"{where} best {m.best:.3f} s of {len(m.seconds)} (median "
        f"{statistics.median(m.seconds):.3f}), peak {m.peak_total / 2**20:,.0f} MiB, "
        f"{m.rows:,} rows, equal to the published table"
    )


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")
