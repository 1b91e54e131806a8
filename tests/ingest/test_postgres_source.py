"""A PostgreSQL source (a real embedded server) gives exactly the bronze a SQLite source gives."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from shoplake.platform import Platform
from tests.ingest.conftest import SOURCE_TABLES
from tests.support.lakehouse import bronze_rows, bronze_table, snapshot_ids

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


def test_postgres_infinite_and_nan_values_are_refused_by_key(
    tmp_path: Path, fresh_postgres_db: str
) -> None:
    # PostgreSQL is strictly typed, but DATE/TIMESTAMP hold ±infinity and NUMERIC holds NaN;
    # infinity used to reach the Iceberg writer and fail with an OverflowError traceback.
    pg = Platform(data_dir=tmp_path / "pg", **{"source.url": fresh_postgres_db})
    pg.generate(scale=0.01, seed=42)
    assert pg.ingest().ok
    before = snapshot_ids(pg)
    engine = sa.create_engine(fresh_postgres_db)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                """UPDATE orders SET "shippedDate" = 'infinity' WHERE "orderNumber" = 10100"""
            )
            conn.exec_driver_sql(
                """UPDATE customers SET "creditLimit" = 'NaN' WHERE "customerNumber" = 103"""
            )
            conn.exec_driver_sql(
                """INSERT INTO ratings VALUES (103, 'S10_2556', 3, '-infinity')"""
                """ ON CONFLICT DO NOTHING"""
            )
    finally:
        engine.dispose()
    report = {r.table: r for r in pg.ingest(["orders", "customers", "ratings"]).results}
    assert report["orders"].error == (
        "orders.shippedDate in row orderNumber=10100: value is not a date; "
        "nothing written for orders"
    )
    assert report["customers"].error == (
        "customers.creditLimit in row customerNumber=103: value is not decimal(10, 2); "
        "nothing written for customers"
    )
    for table in ("orders", "customers"):
        assert snapshot_ids(pg)[f"bronze.{table}"] == before[f"bronze.{table}"]


def test_postgres_table_hidden_from_the_user_fails_by_name(
    tmp_path: Path, fresh_postgres_db: str
) -> None:
    owner = Platform(data_dir=tmp_path / "pg", **{"source.url": fresh_postgres_db})
    owner.generate(scale=0.01, seed=42)
    assert owner.ingest().ok
    before = snapshot_ids(owner)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(fresh_postgres_db)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
            conn.exec_driver_sql(f"REVOKE SELECT ON payments FROM {role}")
    finally:
        engine.dispose()
    reader_url = sa.make_url(fresh_postgres_db).set(username=role).render_as_string()
    reader = Platform(data_dir=owner.settings.data_dir, **{"source.url": reader_url})
    report = reader.ingest()
    results = {r.table: r for r in report.results}
    assert not report.ok
    assert [r.table for r in report.results if r.status == "failed"] == ["payments"]
    error = results["payments"].error or ""
    assert error.startswith("reading source table 'payments' failed")
    assert "permission denied for table payments" in error and "\n" not in error
    assert snapshot_ids(reader)["bronze.payments"] == before["bronze.payments"]
