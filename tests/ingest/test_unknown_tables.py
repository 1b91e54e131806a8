"""Table names given to `ingest` are all resolved before any table is ingested: a typo among
them ingests nothing and is named with the closest source table."""

from __future__ import annotations

import pytest

from shoplake.errors import SourceError
from shoplake.platform import Platform
from tests.ingest.conftest import ingest_cli, source_sql

TYPOS = (
    "source table 'ordrs' does not exist or is not visible to this user — did you mean "
    "orders?; source table 'nothing_like_it' does not exist or is not visible to this user; "
    "nothing was ingested"
)


def test_a_typo_among_the_tables_ingests_none_of_them(shop: Platform) -> None:
    with pytest.raises(SourceError) as error:
        shop.ingest(["customers", "ordrs", "nothing_like_it"])
    assert str(error.value) == TYPOS
    assert not shop.catalog.table_exists("bronze.customers")

    done = ingest_cli(shop.settings.data_dir, "customers", "ordrs", "nothing_like_it")
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.strip()] == [f"error: {TYPOS}"]
    assert not shop.catalog.table_exists("bronze.customers")


def test_a_named_table_bronze_landed_but_the_source_dropped_still_fails_alone(
    shop: Platform,
) -> None:
    assert shop.ingest(["payments"]).ok
    source_sql(shop, "DROP TABLE payments")
    report = shop.ingest(["payments", "customers"])  # known to bronze: not a typo
    statuses = {r.table: r.status for r in report.results}
    assert statuses == {"payments": "failed", "customers": "loaded"}
