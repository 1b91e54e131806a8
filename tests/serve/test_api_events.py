"""POST /events: valid events of a batch land on the event log (and, processed, in
bronze.events) even when others are refused; each refused one is named with its field."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.services import free_port
from shoplake.streams.events import page_view
from tests.serve.conftest import auth, rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tracker(lakehouse: Platform, online_store: str) -> Iterator[TestClient]:
    with TestClient(create_app(lakehouse.settings)) as test_client:
        yield test_client


def view(session: str, product: str, **changes: Any) -> dict[str, Any]:
    event = page_view(uuid.uuid4().hex, dt.datetime.now(dt.UTC), session, product, 103)
    return event | changes


def landed(shop: Platform, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` the stream processor put into bronze.events."""
    shop.process(until_idle=True)
    quoted = ", ".join(f"'{e}'" for e in event_ids)
    found = rows(shop, f"SELECT event_id FROM bronze.events WHERE event_id IN ({quoted})")
    return {r["event_id"] for r in found}


def product(shop: Platform) -> str:
    return str(rows(shop, "SELECT min(product_code) AS p FROM silver.products")[0]["p"])


def test_a_valid_batch_is_accepted(
    tracker: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    session = "api-events-" + uuid.uuid4().hex[:8]
    batch = [view(session, product(lakehouse)) for _ in range(3)]
    response = tracker.post("/events", json=batch, headers=auth(api_keys, "app"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 3}
    ids = [e["event_id"] for e in batch]
    assert landed(lakehouse, ids) == set(ids)


def test_a_mixed_batch_is_422_naming_each_bad_field_and_keeps_the_good(
    tracker: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    session = "api-events-" + uuid.uuid4().hex[:8]
    code = product(lakehouse)
    good = [view(session, code), view(session, code)]
    missing = view(session, code)
    del missing["device"]
    batch = [
        good[0],
        view(session, code, event_type="teleport"),
        missing,
        view(session, "NOPE_1"),
        "not an event",
        view(session, code, quantity=-2, event_type="add_to_cart"),
        good[1],
    ]
    response = tracker.post("/events", json=batch, headers=auth(api_keys, "app"))
    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 2
    rejected = {r["index"]: r for r in body["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5]
    assert rejected[1]["event_id"] == batch[1]["event_id"]
    assert rejected[1]["reason"].startswith("field 'event_type'")
    assert rejected[2]["reason"] == "missing field 'device'"
    assert rejected[3]["reason"].startswith("field 'product_code'")
    assert rejected[4] == {
        "index": 4,
        "event_id": None,
        "reason": "expected a JSON object, got a string",
    }
    assert rejected[5]["reason"].startswith("field 'quantity'")
    assert landed(lakehouse, [e["event_id"] for e in good]) == {e["event_id"] for e in good}
    metrics = tracker.get("/metrics").text
    assert "shoplake_events_rejected_total 5" in metrics


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"event_id": "x"}', "body must be a JSON array of events"),
        (b"[1, 2", "body is not JSON: "),
    ],
)
def test_a_body_that_is_not_an_array_is_400(
    tracker: TestClient, api_keys: dict[str, str], body: bytes, detail: str
) -> None:
    headers = auth(api_keys, "app") | {"Content-Type": "application/json"}
    response = tracker.post("/events", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_without_a_running_log_events_are_503_and_nothing_is_started(
    lakehouse: Platform, tmp_path: Any
) -> None:
    services = lakehouse.settings.services.model_copy(update={"valkey_port": free_port()})
    elsewhere = lakehouse.settings.model_copy(
        update={"data_dir": tmp_path / "no-valkey", "services": services}
    )
    key = create_key(elsewhere, "app")[1]
    with TestClient(create_app(elsewhere)) as idle:
        event = view("api-events-idle", product(lakehouse))
        response = idle.post("/events", json=[event], headers={"X-API-Key": key})
    assert response.status_code == 503
    assert response.json() == {"detail": "the event log (valkey) is not running: `shoplake up`"}
    assert not (tmp_path / "no-valkey" / "valkey").exists()


def test_analysts_may_not_send_events(tracker: TestClient, api_keys: dict[str, str]) -> None:
    assert tracker.post("/events", json=[], headers=auth(api_keys, "analyst")).status_code == 403


def test_lone_surrogates_are_refused_by_field_and_the_rest_land(
    tracker: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    session = "api-events-" + uuid.uuid4().hex[:8]
    good = view(session, product(lakehouse))
    # JSON may escape a lone UTF-16 surrogate; no UTF-8 text (nor the event log) can hold one.
    body = json.dumps(
        [
            good,
            view(session, product(lakehouse), session_id="bad\ud800"),
            {"event_id": "e-\udfff", "event_type": "page_view"},
            {"\ud83d": 1},
            view(session, product(lakehouse), query=["ok", "\udc00"]),
        ]
    ).encode()
    response = tracker.post(
        "/events",
        content=body,
        headers={**auth(api_keys, "app"), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    answer = json.loads(response.text)
    assert answer["accepted"] == 1
    surrogate = "not valid Unicode (a lone surrogate)"
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [
        (1, f"field 'session_id': {surrogate}"),
        (2, f"field 'event_id': {surrogate}"),
        (3, f"a field name is {surrogate}"),
        (4, f"field 'query': {surrogate}"),
    ]
    assert answer["rejected"][1]["event_id"] == "e-\udfff"  # echoed as the JSON escape
    assert landed(lakehouse, [good["event_id"]]) == {good["event_id"]}
