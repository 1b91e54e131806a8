"""``shoplake bench engines``: the same four workloads in pandas, Polars, DuckDB and Spark.

Each engine's jobs live in a module of the same shape (``<engine>_jobs.py``) exposing the
functions named in :data:`shoplake.bench.engines.common.WORKLOADS`; each takes a dict of input
Parquet paths and returns a ``pyarrow.Table`` that must equal the published model's table.
"""
