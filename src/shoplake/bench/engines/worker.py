"""One (engine, workload) measurement in a fresh process.

``python -m shoplake.bench.engines.worker SPEC.json`` reads the spec (engine, workload, input
paths, repeat, where to write), imports the engine (timed), starts it (Spark's session, timed),
runs the job ``repeat`` times (each timed), writes the first run's output to Parquet for the
parent to check and a result JSON with the times and peak memory.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

#: The library each engine imports: what its import time measures.
LIBRARIES: dict[str, str] = {
    "pandas": "pandas",
    "polars": "polars",
    "duckdb": "duckdb",
    "spark": "pyspark.sql",
}
OOM_MARKERS = ("MemoryError", "OutOfMemoryError", "Out of Memory", "out of memory")


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    ``VmHWM`` where /proc has it: Linux carries ``ru_maxrss`` over ``fork`` + ``exec``, so a
    fresh worker would report its parent's peak when that is higher. Elsewhere ``ru_maxrss``
    (KiB on Linux, bytes on macOS).
    """
    hwm = _hwm(os.getpid())
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def tree_hwm_bytes(pid: int) -> int:
    """Sum of ``VmHWM`` (peak RSS) over ``pid`` and its descendants (Linux /proc)."""
    return sum(_hwm(process) or 0 for process in _tree(pid))


def _hwm(pid: int) -> int | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _tree(pid: int) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        current = frontier.pop()
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one spec; return the result record (times in seconds, memory in bytes)."""
    engine, workload = spec["engine"], spec["workload"]
    result: dict[str, Any] = {"engine": engine, "workload": workload}
    started = time.perf_counter()
    importlib.import_module(LIBRARIES[engine])
    result["import_seconds"] = time.perf_counter() - started
    jobs = importlib.import_module(spec.get("module", f"shoplake.bench.engines.{engine}_jobs"))
    job = getattr(jobs, workload)
    spark = None
    if engine == "spark":
        started = time.perf_counter()
        from shoplake.bench.engines import spark_jobs

        spark = spark_jobs.session()
        result["startup_seconds"] = time.perf_counter() - started
        pid = spark_jobs.jvm_pid(spark)
        result["jvm_after_startup"] = tree_hwm_bytes(pid) if pid else None
    importlib.import_module("pyarrow.parquet")  # every job's output type: the harness's share
    result["rss_after_startup"] = peak_rss_bytes()
    seconds = []
    try:
        for run in range(int(spec["repeat"])):
            started = time.perf_counter()
            output = job(spec["inputs"])
            seconds.append(time.perf_counter() - started)
            if run == 0:
                _write(output, spec["output"])
                result["rows"] = output.num_rows
            del output
    finally:
        result["seconds"] = seconds
        result["peak_rss"] = peak_rss_bytes()
        if spark is not None:
            pid = spark_jobs.jvm_pid(spark)
            result["jvm_peak"] = tree_hwm_bytes(pid) if pid else None
            spark.stop()
    return result


def _write(table: Any, path: str) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def main(argv: list[str]) -> int:
    """Entry point: ``worker SPEC.json``; the result goes to the spec's ``result`` path."""
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = measure(spec)
        code = 0
    except BaseException as exc:  # reported to the parent, which decides
        text = f"{type(exc).__name__}: {exc}"
        kind = "oom" if any(m in text for m in OOM_MARKERS) else "error"
        result = {"engine": spec["engine"], "workload": spec["workload"], "error": text[:2000]}
        result["error_kind"] = kind
        result["peak_rss"] = peak_rss_bytes()
        code = 1
    Path(spec["result"]).write_text(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
