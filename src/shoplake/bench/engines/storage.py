"""The order lines stored four ways — CSV, Parquet snappy, Parquet zstd, Iceberg partitioned
by month — with their bytes on disk and the time of a typical query in DuckDB over each."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from shoplake.bench.engines.inputs import ScaleInputs

    #: Given a month (None: all), the files a query over one written format must read.
    Files = Callable[[dt.date | None], list[str]]
    Writer = Callable[[pa.Table, Path], Files]

#: Revenue by month and product line; ``{source}`` is the fact rows, ``{where}`` a filter.
QUERY = """
SELECT CAST(date_trunc('month', f.order_date) AS DATE) AS "month", p.product_line,
       sum(f.order_amount) AS revenue
FROM {source} AS f
INNER JOIN read_parquet('{products}') AS p ON p.product_key = f.product_key
{where}
GROUP BY 1, 2
"""
PARTITION = "order_month"


@dataclass
class StorageResult:
    """One storage format: size, write time, query times (best), files the month query read."""

    format: str
    bytes: int
    files: int
    write_seconds: float
    query_seconds: float
    month_query_seconds: float
    month_files_read: int
    groups: int


def compare_storage(inputs: ScaleInputs, work: Path, *, repeat: int) -> list[StorageResult]:
    """Write the published fact rows in each format under ``work`` (emptied) and query each."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    facts = pq.read_table(inputs.paths["fact_orders"])
    last = pc.max(facts.column("order_date")).as_py()
    month = dt.date(last.year, last.month, 1)
    products = inputs.paths["dim_products"]
    writers: tuple[tuple[str, Writer], ...] = (
        ("CSV", _write_csv),
        ("Parquet (snappy)", _parquet_writer("snappy")),
        ("Parquet (zstd)", _parquet_writer("zstd")),
        ("Iceberg, partitioned by month (zstd)", _write_iceberg),
    )
    results = []
    for name, write in writers:
        started = time.perf_counter()
        files = write(facts, work / _slug(name))
        written = time.perf_counter() - started
        all_files = files(None)
        query = _best(repeat, files, products, None)
        month_query = _best(repeat, files, products, month)
        results.append(
            StorageResult(
                name,
                sum(Path(p).stat().st_size for p in all_files),
                len(all_files),
                written,
                query[0],
                month_query[0],
                len(files(month)),
                query[1],
            )
        )
    return results


def _write_csv(facts: pa.Table, folder: Path) -> Files:
    from pyarrow import csv

    folder.mkdir()
    path = folder / "fact_orders.csv"
    csv.write_csv(facts, path)
    return lambda _month: [str(path)]


def _parquet_writer(codec: str) -> Writer:
    def write(facts: pa.Table, folder: Path) -> Files:
        import pyarrow.parquet as pq

        folder.mkdir()
        path = folder / "fact_orders.parquet"
        pq.write_table(facts, path, compression=codec)
        return lambda _month: [str(path)]

    return write


def _write_iceberg(facts: pa.Table, folder: Path) -> Files:
    """Create from the Arrow schema, add a month partition with ``update_spec``, append."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.transforms import MonthTransform

    from shoplake.bench.transform import local_path

    folder.mkdir()
    catalog = SqlCatalog(
        "storage",
        uri=f"sqlite:///{folder / 'catalog.db'}",
        warehouse=f"file://{folder / 'warehouse'}",
    )
    catalog.create_namespace("bench")
    table = catalog.create_table(
        "bench.fact_orders",
        schema=facts.schema,
        properties={"write.parquet.compression-codec": "zstd"},
    )
    with table.update_spec() as spec:
        spec.add_field("order_date", MonthTransform(), PARTITION)
    table.append(facts)

    def files(month: dt.date | None) -> list[str]:
        scan = table.scan()
        if month is not None:
            end = _next_month(month)
            scan = table.scan(row_filter=f"order_date >= '{month}' AND order_date < '{end}'")
        return [local_path(task.file.file_path) for task in scan.plan_files()]

    return files


def _query(paths: list[str], products: str, month: dt.date | None) -> int:
    """Run the query over ``paths`` in a fresh DuckDB; return the number of groups."""
    import duckdb

    listed = ", ".join(f"'{p}'" for p in paths)
    reader = "read_csv" if paths[0].endswith(".csv") else "read_parquet"
    where = ""
    if month is not None:
        where = (
            f"WHERE f.order_date >= DATE '{month}' AND f.order_date < DATE '{_next_month(month)}'"
        )
    sql = QUERY.format(source=f"{reader}([{listed}])", products=products, where=where)
    con = duckdb.connect()
    try:
        return len(con.sql(sql).fetchall())
    finally:
        con.close()


def _best(repeat: int, files: Files, products: str, month: dt.date | None) -> tuple[float, int]:
    """Best time of the query (listing the files included: Iceberg plans its scan) and its
    number of groups."""
    best, groups = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        groups = _query(files(month), products, month)
        best = min(best, time.perf_counter() - started)
    return best, groups


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
