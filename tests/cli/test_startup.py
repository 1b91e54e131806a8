"""Commands import only what they use: `--help`, `tables` and `query` never load the
orchestrator, the API stack, the recommender's libraries, SQLAlchemy or pandas.

Each command runs in a fresh interpreter whose import system refuses the heavy packages (as if
they were not installed) and reports at exit which packages were loaded or refused. Nothing is
timed here; benchmarks/reports/startup.md has the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shoplake.platform import Platform
from tests.lake.conftest import tiny  # noqa: F401  (fixture)

#: Packages no read-only command needs (pandas: see OPTIONAL_PROBES).
HEAVY = frozenset(
    {
        "dagster",
        "dagster_webserver",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "implicit",
        "faiss",
        "sklearn",
        "scipy",
        "pyspark",
        "polars",
        "pandas",
        "sqlalchemy",
        "boto3",
        "botocore",
        "psycopg",
        "dlt",
        "matplotlib",
        "valkey",
    }
)
#: What pyarrow looks up by itself when it converts a Python value, and copes without: the
#: default install (`make demo`) does not have it.
OPTIONAL_PROBES = frozenset({"pandas"})
#: `--help` needs no settings, lakehouse or engine either.
NOT_FOR_HELP = HEAVY | {"pydantic", "pydantic_settings", "pyiceberg", "pyarrow", "numpy", "duckdb"}

_RUNNER = """
import atexit, importlib.abc, json, sys

refused = []
heavy = set(sys.argv[1].split(","))


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in heavy:
            refused.append(name)
            raise ImportError(f"{name} is refused by the startup test")
        return None


def report():
    loaded = sorted({name.partition(".")[0] for name in sys.modules})
    print("STARTUP " + json.dumps({"loaded": loaded, "refused": sorted(set(refused))}),
          file=sys.stderr)


sys.meta_path.insert(0, Refuse())
atexit.register(report)
sys.argv = ["shoplake", *sys.argv[2:]]
from shoplake.cli.main import main

main()
"""


def run_refusing(
    refused: frozenset[str], *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``shoplake ARGS`` with ``refused`` packages unimportable; the result and the
    import report (``loaded``: top-level modules at exit, ``refused``: attempts)."""
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, ",".join(sorted(refused)), *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("STARTUP ")]
    assert lines, result.stderr
    return result, json.loads(lines[-1].removeprefix("STARTUP "))


def test_help_loads_neither_settings_nor_lakehouse() -> None:
    result, report = run_refusing(NOT_FOR_HELP, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: shoplake" in result.stdout
    assert report["refused"] == []
    assert set(report["loaded"]) & NOT_FOR_HELP == set()


def test_query_runs_without_heavy_packages(tiny: Platform) -> None:  # noqa: F811
    data_dir = str(tiny.settings.data_dir)
    result, report = run_refusing(
        HEAVY,
        "--data-dir",
        data_dir,
        "query",
        "SELECT count(*) AS n, sum(price) AS total FROM bronze.items",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": 3, "total": 55.49}]
    assert set(report["refused"]) <= OPTIONAL_PROBES
    assert set(report["loaded"]) & HEAVY == set()
    assert {"pyiceberg", "duckdb"} <= set(report["loaded"])


def test_tables_runs_without_heavy_packages(tiny: Platform) -> None:  # noqa: F811
    data_dir = str(tiny.settings.data_dir)
    metadata_only = HEAVY | {"pyarrow", "numpy", "duckdb", "sqlglot"}  # no data is read
    result, report = run_refusing(
        metadata_only, "--data-dir", data_dir, "tables", "--output", "json"
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row["rows"] for row in json.loads(result.stdout)}
    assert rows == {"bronze.items": 3}
    assert report["refused"] == []
    assert set(report["loaded"]) & metadata_only == set()


def test_invalid_setting_is_still_one_line(tmp_path: Path) -> None:
    """pydantic is imported only when settings are read; its errors still become one line."""
    result, _ = run_refusing(
        HEAVY,
        "--data-dir",
        str(tmp_path),
        "tables",
        env={"SHOPLAKE_INGEST__BATCH_ROWS": "many"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "error: invalid configuration: ingest.batch_rows: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
