"""Dead letters hold refused records, which carry personal data: an analyst reads no name,
email or phone in clear in any of their columns (reason and payload included), through
``POST /query`` or the table description; the reasons themselves name field and rule only."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.serve.pii import MASK_PREFIX
from shoplake.services import free_port
from shoplake.streams.events import FIELDS, dead_letters_to_arrow, validate
from shoplake.supplier.store import SupplierStore, store_path
from tests.support.supplier import running_supplier_api

NAME, EMAIL, PHONE = "Jane Roe", "jane.roe@example.com", "+1 555 0100"
CLEAR = (NAME, "Jane", "Roe", EMAIL, "jane.roe", PHONE, "555 0100")
STAMP = "2026-04-30T12:00:00.000000Z"


def _review(number: int, **fields: Any) -> dict[str, Any]:
    record = {
        "review_id": f"PII{number:03d}",
        "sku": "SUP-S10_1678",
        "rating": 4,
        "title": "ok",
        "body": "fine",
        "reviewer": NAME,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    return record | fields


#: Reviews refused for a field holding personal data where another type was expected.
HOSTILE = [
    _review(1, reviewer={"name": NAME, "email": EMAIL, "phone": PHONE}),
    _review(2, rating=f"{NAME} {PHONE}"),
    _review(3, created_at=f"call {NAME} on {PHONE}"),
    _review(4, updated_at=EMAIL),
    _review(5, rating=[EMAIL]),
    _review(6, title={"email": EMAIL}),
]
REASONS = {
    "PII001": "reviewer: expected a string, got an object",
    "PII002": "rating: expected an integer, got a string",
    "PII003": "created_at: not an ISO 8601 timestamp",
    "PII004": "updated_at: not an ISO 8601 timestamp",
    "PII005": "rating: expected an integer, got a list",
    "PII006": "title: expected a string, got an object",
}


def _plant(data_dir: Path, records: list[dict[str, Any]]) -> None:
    """Write records straight into the supplier's store, as its API will serve them."""
    with sqlite3.connect(store_path(data_dir)) as db:
        db.executemany(
            "INSERT INTO records VALUES ('reviews', ?, ?, ?, NULL)",
            [(r["review_id"], STAMP, json.dumps(r)) for r in records],
        )


def _stream_dead_letters(shop: Platform) -> None:
    """Clickstream events refused by the validator, landed as the processor lands them."""
    blank = dict.fromkeys(FIELDS)
    events = [
        {"schema_version": 1, "event_id": "e1", "event_type": "search", "session_id": EMAIL},
        blank | {"schema_version": 1, "event_id": EMAIL, "event_type": NAME, "query": PHONE},
    ]
    now = datetime(2026, 4, 30, tzinfo=UTC)
    refused = [validate(json.dumps(e).encode(), known_products=None, now=now) for e in events]
    table = dead_letters_to_arrow(refused)  # type: ignore[arg-type]
    if not shop.catalog.table_exists("bronze.dead_letters"):
        shop.catalog.create_table("bronze.dead_letters", schema=table.schema)
    shop.catalog.load_table("bronze.dead_letters").append(table)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    data_dir = tmp_path_factory.mktemp("pii") / "shop"
    shop = Platform(data_dir=data_dir, **{"supplier.port": free_port()})
    shop.generate(scale=0.02, seed=42)
    SupplierStore(store_path(data_dir)).seed_from_source(shop.settings.source_url)
    _plant(data_dir, HOSTILE)
    with running_supplier_api(shop.settings):
        assert shop.ingest_api().ok
    _stream_dead_letters(shop)
    return shop


@pytest.fixture(scope="module")
def analyst(shop: Platform) -> Iterator[TestClient]:
    key = create_key(shop.settings, "analyst", "pii tests")[1]
    with TestClient(create_app(shop.settings), headers={"X-API-Key": key}) as client:
        yield client


def _admin_rows(shop: Platform, sql: str) -> list[dict[str, Any]]:
    return shop.query(sql).table.to_pylist()


def test_reasons_name_the_field_and_rule_never_the_value(shop: Platform) -> None:
    rows = _admin_rows(
        shop,
        "SELECT record_id, reason FROM bronze.supplier_dead_letters WHERE record_id LIKE 'PII%'",
    )
    assert {r["record_id"]: r["reason"] for r in rows} == REASONS
    stream = _admin_rows(shop, "SELECT reason FROM bronze.dead_letters ORDER BY reason")
    assert [r["reason"] for r in stream] == [
        "field 'event_type': expected one of add_to_cart, page_view, purchase, "
        "remove_from_cart, search, got a string",
        "missing field 'event_time'",
    ]


@pytest.mark.parametrize("table", ["bronze.supplier_dead_letters", "bronze.dead_letters"])
def test_an_analyst_reads_no_personal_data_in_dead_letters(
    analyst: TestClient, shop: Platform, table: str
) -> None:
    response = analyst.post("/query", json={"sql": f"SELECT * FROM {table}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["row_count"] == len(_admin_rows(shop, f"SELECT * FROM {table}")) > 0
    for clear in CLEAR:
        assert clear not in response.text, clear
    assert {f"{table}.reason", f"{table}.payload"} <= set(body["masked"])
    assert all(r["reason"].startswith(MASK_PREFIX) for r in body["rows"])
    # derived columns are masked too: the mask applies before the query engine sees the table
    derived = analyst.post(
        "/query", json={"sql": f"SELECT upper(reason) AS r, payload || '' AS p FROM {table}"}
    )
    assert derived.status_code == 200 and not any(c in derived.text for c in CLEAR)


def test_the_table_description_masks_them_too(analyst: TestClient) -> None:
    response = analyst.get("/tables/bronze/supplier_dead_letters")
    assert response.status_code == 200, response.text
    for clear in CLEAR:
        assert clear not in response.text, clear


def test_assess_sees_every_dead_letter_column_masked(shop: Platform) -> None:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Report
    from shoplake.ops.assess.pii_exposure import check_pii

    report = Report(pillars=["security"])
    check_pii(Context(shop.settings, shop.catalog), report.recorder("security"))
    findings = {f.id: f for f in report.findings}
    covered = findings["pii-by-role"].evidence["pii columns"]
    for table in ("bronze.supplier_dead_letters", "bronze.dead_letters"):
        assert {"reason", "payload"} <= set(covered[table]), table
    assert "pii-unmasked" not in findings, findings.get("pii-unmasked")


def _cli_query(shop: Platform, sql: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    command = ["--data-dir", str(shop.settings.data_dir), "query", sql, *options]
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", *command],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("table", ["bronze.supplier_dead_letters", "bronze.dead_letters"])
def test_the_cli_as_analyst_reads_no_personal_data(shop: Platform, table: str) -> None:
    sql = f"SELECT *, upper(payload) AS shouted FROM {table}"
    analyst = _cli_query(shop, sql, "--role", "analyst", "--output", "json")
    assert analyst.returncode == 0, analyst.stderr
    rows = json.loads(analyst.stdout)
    assert len(rows) == len(_admin_rows(shop, f"SELECT * FROM {table}")) > 0
    assert all(r["reason"].startswith(MASK_PREFIX) for r in rows)
    assert all(r["shouted"].startswith(MASK_PREFIX.upper()) for r in rows)
    for clear in CLEAR:
        assert clear not in analyst.stdout + analyst.stderr, clear
    admin = _cli_query(shop, sql, "--output", "json")  # the operator's default view
    assert admin.returncode == 0 and EMAIL in admin.stdout


def test_the_cli_as_analyst_is_held_to_the_apis_query_guard(shop: Platform) -> None:
    done = _cli_query(shop, "SELECT * FROM read_text('/etc/hostname')", "--role", "analyst")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
