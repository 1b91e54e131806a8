"""The change simulator: reported counts match the database, history is kept, runs repeat."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from shoplake.errors import SourceError
from shoplake.generate import schema
from shoplake.generate.simulate import SimulateResult, _Run, simulate
from shoplake.generate.synthetic import generate, table_digests
from shoplake.sourcedb import create_source_engine


def _source(directory: Path, seed: int = 5) -> tuple[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'source.db'}"
    tastes = directory / "tastes.parquet"
    generate(url, scale=0.02, seed=seed, tastes_path=tastes)
    return url, tastes


def _snapshot(url: str) -> dict[str, dict[tuple, tuple]]:
    """Every table as {primary key: row}."""
    engine = create_source_engine(url)
    tables = {}
    with engine.connect() as conn:
        for name in schema.SOURCE_TABLES:
            table = schema.metadata.tables[name]
            key = [c.name for c in table.primary_key.columns]
            rows = conn.execute(select(table)).mappings().all()
            tables[name] = {tuple(r[k] for k in key): tuple(r.values()) for r in rows}
    engine.dispose()
    return tables


def _digests(url: str) -> dict[str, str]:
    engine = create_source_engine(url)
    try:
        return table_digests(engine)
    finally:
        engine.dispose()


@pytest.fixture
def simulated(tmp_path) -> tuple[dict, dict, SimulateResult]:
    url, tastes = _source(tmp_path)
    before = _snapshot(url)
    result = simulate(url, orders=300, seed=11, tastes_path=tastes)
    return before, _snapshot(url), result


def test_new_orders_and_lines_are_appended(simulated):
    before, after, result = simulated
    changes = result.changes
    assert changes["orders_inserted"] == 300
    new = {k: v for k, v in after["orders"].items() if k not in before["orders"]}
    assert len(new) == 300
    old_max = max(before["orders"])[0]
    assert sorted(k[0] for k in new) == list(range(old_max + 1, old_max + 301))
    latest = max(row[1] for row in before["orders"].values())
    assert all(row[1] > latest and row[4] == "In Process" and row[3] is None
               for row in new.values())  # fmt: skip
    # Nothing is ever deleted from orders or orderdetails, and old lines are untouched.
    assert set(before["orders"]) <= set(after["orders"])
    old_lines = {k: v for k, v in after["orderdetails"].items() if k[0] <= old_max}
    assert old_lines == before["orderdetails"]
    new_lines = len(after["orderdetails"]) - len(before["orderdetails"])
    assert new_lines == changes["orderdetails_inserted"]
    assert 9 * 300 <= new_lines <= 11 * 300
    assert {k[0] for k in after["orderdetails"]} == set(k[0] for k in after["orders"])


def test_status_transitions_match_the_counts(simulated):
    before, after, result = simulated
    moved: dict[str, int] = {}
    for key, old in before["orders"].items():
        new = after["orders"][key]
        assert new[1] == old[1] and new[6] == old[6]  # orderDate and customer never change
        if new[4] != old[4]:
            moved[new[4]] = moved.get(new[4], 0) + 1
            if new[4] == "Shipped":
                assert new[3] is not None and new[3] >= new[1]
    kinds = {"Shipped": "shipped", "Cancelled": "cancelled", "On Hold": "on_hold",
             "Disputed": "disputed", "Resolved": "resolved"}  # fmt: skip
    assert moved == {s: result.changes[f"orders_{k}"] for s, k in kinds.items()
                     if result.changes[f"orders_{k}"]}  # fmt: skip
    # 300 new orders outnumber the open ones, so every order open before has moved on.
    assert not [k for k, v in before["orders"].items() if after["orders"][k][4] == "In Process"]
    assert result.changes["orders_shipped"] > 0


def test_payments_customers_and_products_changes_match_the_counts(simulated):
    before, after, result = simulated
    changes = result.changes
    gone = set(before["payments"]) - set(after["payments"])
    added = set(after["payments"]) - set(before["payments"])
    assert len(gone) == changes["payments_deleted"] > 0
    assert len(added) == changes["payments_inserted"] > 0
    deleted = set(before["customers"]) - set(after["customers"])
    assert len(deleted) == changes["customers_deleted"] > 0
    for (customer,) in deleted:
        assert all(k[0] != customer for t in ("orders", "payments", "ratings")
                   for k in (before[t] if t != "orders" else
                             {(v[6],) for v in before["orders"].values()}))  # fmt: skip
    kept = set(before["customers"]) & set(after["customers"])
    columns = [c.name for c in schema.customers.columns]
    credit, address = columns.index("creditLimit"), columns.index("addressLine1")
    changed = [(before["customers"][k], after["customers"][k]) for k in kept]
    assert sum(b[credit] != a[credit] for b, a in changed) == changes["credit_limits_changed"]
    assert sum(b[address] != a[address] for b, a in changed) == changes["customers_moved"]
    repriced = [k for k in before["products"] if before["products"][k] != after["products"][k]]
    assert len(repriced) == changes["prices_changed"] > 0
    assert all(after["products"][k][8] > after["products"][k][7] for k in repriced)  # MSRP > buy


def test_ratings_are_new_or_later_than_every_earlier_rating(simulated):
    before, after, result = simulated
    latest = max(row[3] for row in before["ratings"].values())
    added = [k for k in after["ratings"] if k not in before["ratings"]]
    assert len(added) == result.changes["ratings_inserted"] > 0
    rerated = [k for k in before["ratings"] if after["ratings"][k] != before["ratings"][k]]
    assert len(rerated) == result.changes["ratings_updated"] > 0
    for key in rerated:
        assert after["ratings"][key][2] != before["ratings"][key][2]
    assert all(after["ratings"][k][3] > latest for k in added + rerated)
    assert all(1 <= row[2] <= 5 for row in after["ratings"].values())


def test_same_state_and_seed_give_the_same_changes(tmp_path):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        url, tastes = _source(tmp_path / name)
        result = simulate(url, orders=100, seed=seed, tastes_path=tastes)
        runs.append((result.changes, _digests(url)))
    assert runs[0] == runs[1]
    assert runs[0][1]["orderdetails"] != runs[2][1]["orderdetails"]


def test_without_tastes_popularity_drives_new_orders(tmp_path):
    url, _ = _source(tmp_path)
    result = simulate(url, orders=50, seed=1, tastes_path=tmp_path / "missing.parquet")
    assert result.changes["orders_inserted"] == 50
    assert result.changes["orderdetails_inserted"] >= 50


def test_zero_orders_changes_nothing(tmp_path):
    url, tastes = _source(tmp_path)
    before = _digests(url)
    result = simulate(url, orders=0, seed=1, tastes_path=tastes)
    assert set(result.changes.values()) == {0}
    assert _digests(url) == before


def test_a_failure_rolls_everything_back(tmp_path, monkeypatch):
    url, tastes = _source(tmp_path)
    before = _digests(url)

    def fail(self, numbers):
        raise SourceError("boom")

    monkeypatch.setattr(_Run, "delete_customers", fail)
    with pytest.raises(SourceError, match="boom"):
        simulate(url, orders=100, seed=1, tastes_path=tastes)
    assert _digests(url) == before


def test_missing_tables_are_a_one_line_error(tmp_path):
    with pytest.raises(SourceError, match="generate it first"):
        simulate(f"sqlite:///{tmp_path / 'empty.db'}", orders=10, seed=1, tastes_path=None)


def test_real_classicmodels_sample_without_tastes(tmp_path, classicmodels_dump,
                                                   classicmodels_ratings_csv):  # fmt: skip
    from shoplake.generate.classicmodels import load_classicmodels, load_ratings_csv

    url = f"sqlite:///{tmp_path / 'real.db'}"
    load_classicmodels(url, classicmodels_dump)
    load_ratings_csv(url, classicmodels_ratings_csv)
    before = _snapshot(url)
    result = simulate(url, orders=40, seed=2, tastes_path=None)
    after = _snapshot(url)
    new = sorted(k[0] for k in set(after["orders"]) - set(before["orders"]))
    assert new == list(range(10426, 10466))  # the sample's last order is 10425 (2005-05-31)
    assert min(after["orders"][(n,)][1] for n in new).isoformat() > "2005-05-31"
    assert len(after["ratings"]) == len(before["ratings"]) + result.changes["ratings_inserted"]
    assert result.changes["customers_deleted"] == 1  # the sample has customers who never ordered


def test_postgres_matches_sqlite(tmp_path, fresh_postgres_db):
    """COPY into PostgreSQL writes the same rows as executemany into SQLite, and the simulator
    makes the same changes on both."""
    digests = []
    for url in (fresh_postgres_db, f"sqlite:///{tmp_path / 'twin.db'}"):
        generate(url, scale=0.01, seed=8, tastes_path=tmp_path / "tastes.parquet")
        simulate(url, orders=60, seed=8, tastes_path=tmp_path / "tastes.parquet")
        digests.append(_digests(url))
    assert digests[0] == digests[1]
