"""Slow statements run in the query pool, never in the threads other routes share: with 45 of
them in flight ``/health`` still answers at once, and a key over its share gets 429."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.serve.state import ServeState

SLOW = "SELECT sum(hash(i)) AS h FROM range(1000000000000) t(i)"
TIMED_OUT = "query timed out after 0.5 s and was stopped"


def settings_for(shop: Platform, **query: Any) -> Any:
    serve = shop.settings.serve.model_copy(update={"query_timeout_seconds": 0.5})
    limits = shop.settings.query.model_copy(update=query)
    return shop.settings.model_copy(update={"serve": serve, "query": limits})


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(50) as pool:
        yield pool


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_health_answers_while_45_slow_queries_are_in_flight(
    lakehouse: Platform, threads: ThreadPoolExecutor
) -> None:
    keys = [create_key(lakehouse.settings, "analyst", f"load {i}")[1] for i in range(45)]
    app = create_app(settings_for(lakehouse, workers=4))
    state: ServeState = app.state.serve
    with TestClient(app) as client:

        def slow(key: str) -> httpx.Response:
            return client.post("/query", json={"sql": SLOW}, headers={"X-API-Key": key})

        answers: list[Future[httpx.Response]] = [threads.submit(slow, k) for k in keys]
        wait_for(lambda: state.query_slots.in_flight() == 45, "45 queries in flight")
        health = client.get("/health")
        still_running = state.query_slots.in_flight()
        results = [answer.result() for answer in answers]
    assert health.status_code in (200, 503) and health.json()["status"] in ("ok", "degraded")
    assert still_running > 40  # at most the pool's 4 finished before /health answered
    assert {(r.status_code, r.json()["detail"]) for r in results} == {(400, TIMED_OUT)}


def test_a_key_over_its_share_of_queries_gets_429(
    lakehouse: Platform, api_keys: dict[str, str], threads: ThreadPoolExecutor
) -> None:
    app = create_app(settings_for(lakehouse, concurrent_per_key=1))
    state: ServeState = app.state.serve
    headers = {"X-API-Key": api_keys["analyst"]}
    with TestClient(app) as client:
        first = threads.submit(client.post, "/query", json={"sql": SLOW}, headers=headers)
        wait_for(lambda: state.query_slots.in_flight() == 1, "the first query in flight")
        second = client.post("/query", json={"sql": "SELECT 1 AS one"}, headers=headers)
        other = client.post(
            "/query", json={"sql": "SELECT 1 AS one"}, headers={"X-API-Key": api_keys["admin"]}
        )
        assert first.result().json() == {"detail": TIMED_OUT}
        after = client.post("/query", json={"sql": "SELECT 1 AS one"}, headers=headers)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "1"
    assert second.json()["detail"].endswith("already has 1 queries running: retry shortly")
    assert other.json()["rows"] == after.json()["rows"] == [{"one": 1}]
