"""The engine benchmark's inputs: a lakehouse per scale, its tables exported to Parquet once.

Every engine reads the same Parquet files: the silver tables (and ``bronze.events`` for the
clickstream) as inputs, the published model tables as the answers each engine must give.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.config import Settings

SEED = 42
#: Clickstream events streamed per unit of scale.
EVENTS_PER_SCALE = 200_000
#: Tables the engine jobs read, by the name the jobs use.
INPUT_TABLES: dict[str, str] = {
    "orderdetails": "silver.orderdetails",
    "orders": "silver.orders",
    "products": "silver.products",
    "customers": "silver.customers",
    "ratings": "silver.ratings",
    "events": "bronze.events",
}
#: The published table that is the answer to each workload.
EXPECTED_TABLES: dict[str, str] = {
    "fact_orders": "gold.fact_orders",
    "monthly_revenue": "gold.sales_by_month",
    "sessionize": "silver.sessions",
    "interaction_matrix": "gold.interactions",
}
#: Further tables the storage comparison reads.
EXTRA_TABLES: dict[str, str] = {"dim_products": "gold.dim_products"}


@dataclass
class ScaleInputs:
    """The exported Parquet files of one scale and how long building them took."""

    scale: float
    events: int
    paths: dict[str, str]
    rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    def inputs(self) -> dict[str, str]:
        """The job inputs: name -> Parquet path."""
        return {name: self.paths[name] for name in INPUT_TABLES}

    def expected(self, workload: str) -> str:
        """The Parquet file of the published answer to ``workload``."""
        return self.paths[workload]


def events_for(scale: float) -> int:
    """Clickstream events streamed at ``scale`` (at least 1,000)."""
    return max(1000, round(EVENTS_PER_SCALE * scale))


def build_inputs(settings: Settings, scale: float, *, seed: int = SEED) -> ScaleInputs:
    """Generate, ingest, stream and transform a lakehouse at ``scale``; export to Parquet.

    Works in ``<data_dir>/bench-engines/scale-<scale>`` (emptied first) with a valkey of its
    own, stopped at the end.
    """
    from shoplake.bench.ingest import _progress
    from shoplake.bench.workspace import valkey_workspace

    seconds: dict[str, float] = {}
    events = events_for(scale)
    with valkey_workspace(settings, f"bench-engines/scale-{scale:g}") as plat:
        started = time.perf_counter()
        plat.generate(scale=scale, seed=seed)
        plat.ingest()
        seconds["generate + ingest"] = time.perf_counter() - started
        started = time.perf_counter()
        plat.up()
        try:
            plat.produce(events=events, seed=seed)
            plat.process(until_idle=True)
        finally:
            plat.down()
        seconds["stream"] = time.perf_counter() - started
        started = time.perf_counter()
        report = plat.transform()
        needed = {*EXPECTED_TABLES.values(), *EXTRA_TABLES.values()}
        failed = [
            f"{r.model}: {r.status} ({r.error})"
            for r in report.results
            if r.model in needed and r.status != "published"
        ]
        if failed:
            raise RuntimeError("transform did not publish: " + "; ".join(failed))
        seconds["transform"] = time.perf_counter() - started
        started = time.perf_counter()
        out = plat.settings.data_dir / "engine-inputs"
        tables = {**INPUT_TABLES, **EXPECTED_TABLES, **EXTRA_TABLES}
        paths, rows = {}, {}
        for name, table in tables.items():
            paths[name], rows[name] = export_table(plat.catalog, table, out / f"{name}.parquet")
        seconds["export"] = time.perf_counter() - started
    _progress(
        f"inputs at scale {scale:g}: "
        + ", ".join(f"{name} {n:,}" for name, n in rows.items())
        + " rows"
    )
    return ScaleInputs(scale, events, paths, rows, seconds)


def export_table(catalog: Catalog, name: str, path: Path) -> tuple[str, int]:
    """Write the current snapshot of Iceberg table ``name`` to one Parquet file."""
    import pyarrow.parquet as pq

    data = catalog.load_table(name).scan().to_arrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, path)
    return str(path), data.num_rows
