"""Wall and CPU time of short shoplake commands, each in a fresh process (imports included).

    python benchmarks/startup.py --venv .venv --data-dir .shoplake [--runs 7]

The data dir must hold a lakehouse with gold.fact_orders (`shoplake demo --scale 0.02` makes
one). Prints a Markdown table: median and best wall time, median CPU time (user + system) and
the 1-minute load average when each command's runs began. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv"))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python, shoplake = str(args.venv / "bin" / "python"), str(args.venv / "bin" / "shoplake")
    data = ["--data-dir", str(args.data_dir)]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import duckdb, pyarrow'": [python, "-c", "import duckdb, pyarrow"],
        "shoplake --help": [shoplake, "--help"],
        "shoplake tables": [shoplake, *data, "tables"],
        'shoplake query "select count(*) from gold.fact_orders"': [
            shoplake,
            *data,
            "query",
            "select count(*) from gold.fact_orders",
        ],
    }
    print("| command | wall median (s) | wall best (s) | CPU median (s) | load (1 min) |")
    print("|---|---:|---:|---:|---:|")
    for label, argv in commands.items():
        timed(argv)  # warm the file cache
        load = os.getloadavg()[0]
        runs = [timed(argv) for _ in range(args.runs)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"| `{label}` | {statistics.median(walls):.2f} | {min(walls):.2f} | "
            f"{statistics.median(cpus):.2f} | {load:.1f} |"
        )


if __name__ == "__main__":
    main()
