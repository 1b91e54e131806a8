"""``GET /health`` (each backend's state) and ``GET /metrics`` (Prometheus text); no key needed.

Health always answers 200 — the body's ``status`` is ``ok`` when every backend is, else
``degraded`` — so that a probe can tell "the API is up, the event log is not" from "the API is
down". Checks never start anything and never show a secret.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from shoplake.redact import redact
from shoplake.serve.metrics import CONTENT_TYPE
from shoplake.serve.responses import json_response, serve_state
from shoplake.serve.state import ServeState

router = APIRouter(tags=["operations"])
BACKENDS = ("catalog", "online_store", "event_log", "model", "vector_index")

_HEALTH_EXAMPLE = {
    "status": "ok",
    "backends": {
        "catalog": {"state": "ok", "detail": "31 tables"},
        "online_store": {"state": "ok", "detail": "redis://127.0.0.1:6390"},
        "event_log": {"state": "ok", "detail": "valkey, 4 shards"},
        "model": {"state": "ok", "detail": "promoted v0001"},
        "vector_index": {"state": "ok", "detail": "112 vectors"},
    },
}


@router.get(
    "/health",
    summary="State of each backend",
    response_class=Response,
    responses={200: {"description": "Each backend: ok or down, with why.",
                     "content": {"application/json": {"example": _HEALTH_EXAMPLE}}}},
)  # fmt: skip
async def health(request: Request) -> Response:
    """Catalog, online store, event log, promoted model and vector index: ``ok`` or ``down``."""
    state = serve_state(request)
    backends = await run_in_threadpool(_sync_checks, state)
    backends["online_store"] = await _online_store(state)
    if state.settings.stream.backend == "valkey":
        store = backends["online_store"]
        shards = state.settings.stream.shards
        backends["event_log"] = _ok(f"valkey, {shards} shards") if store["state"] == "ok" else store
    else:
        backends["event_log"] = await run_in_threadpool(_check, _kinesis_log, state)
    status = "ok" if all(b["state"] == "ok" for b in backends.values()) else "degraded"
    return json_response({"status": status, "backends": {n: backends[n] for n in BACKENDS}})


def _ok(detail: str) -> dict[str, str]:
    return {"state": "ok", "detail": detail}


def _down(detail: str) -> dict[str, str]:
    return {"state": "down", "detail": detail}


def _check(probe: Callable[[ServeState], str], state: ServeState) -> dict[str, str]:
    """Run one probe: its detail when it succeeds, ``down`` with the error's first line."""
    try:
        return _ok(probe(state))
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _down(redact(message))


def _catalog(state: ServeState) -> str:
    from shoplake.lake.catalog import list_tables

    return f"{len(list_tables(state.platform.catalog))} tables"


def _model(state: ServeState) -> str:
    loaded = state.model()
    if loaded is None:
        raise LookupError("no promoted model: run `shoplake train`")
    return f"promoted {loaded.version}"


def _vector_index(state: ServeState) -> str:
    if state.model() is None:
        raise LookupError("no promoted model, so no item index")
    return f"{len(state.item_index())} vectors"


def _kinesis_log(state: ServeState) -> str:
    log = state.event_log()
    log.lag(0, None)
    return f"kinesis, {log.shards} shards"


def _sync_checks(state: ServeState) -> dict[str, dict[str, str]]:
    return {
        "catalog": _check(_catalog, state),
        "model": _check(_model, state),
        "vector_index": _check(_vector_index, state),
    }


async def _online_store(state: ServeState) -> dict[str, str]:
    store = state.store()
    if store is None:
        return _down("valkey is not running: `shoplake up` starts it")
    try:
        await store.ping()
    except Exception as exc:
        return _down(redact(f"{state.store_url()}: {str(exc).strip() or type(exc).__name__}"))
    return _ok(redact(state.store_url() or ""))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format 0.0.4.",
                     "content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)  # fmt: skip
async def metrics(request: Request) -> Response:
    """Requests by route and status, latency histograms, events accepted and rejected, and
    requests refused by rate limiting."""
    limited = request.app.state.guard.limiter.limited
    text = request.app.state.metrics.render(rate_limited=limited)
    return Response(text, media_type=CONTENT_TYPE)
