"""A PostgreSQL source (a real embedded server) gives exactly the bronze a SQLite source gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.ingest.conftest import SOURCE_TABLES
from tests.support.lakehouse import bronze_rows, bronze_table

pytestmark = pytest.mark.integration


def test_postgres_and_sqlite_sources_give_identical_bronze(
    tmp_path: Path, fresh_postgres_db: str
) -> None:
    lite = Platform(data_dir=tmp_path / "sqlite")
    lite.generate(scale=0.01, seed=42)
    pg = Platform(data_dir=tmp_path / "pg", **{"source.url": fresh_postgres_db})
    pg.generate(scale=0.01, seed=42)

    for round_ in range(2):
        lite_report, pg_report = lite.ingest(), pg.ingest()
        assert lite_report.ok and pg_report.ok, [r.error for r in pg_report.results]
        counts = {r.table: (r.inserts, r.updates, r.deletes) for r in lite_report.results}
        assert {r.table: (r.inserts, r.updates, r.deletes) for r in pg_report.results} == counts
        for table in SOURCE_TABLES:
            assert bronze_table(pg, table).schema == bronze_table(lite, table).schema, table
            assert bronze_rows(pg, table) == bronze_rows(lite, table), (round_, table)
        if round_ == 0:
            assert (
                lite.simulate(orders=25, seed=5).changes == pg.simulate(orders=25, seed=5).changes
            )
