"""The supplier API: FastAPI over the supplier store, OAuth2 client credentials, rate limits and
injected faults.

Order of checks on ``/v1/*``: bearer token (401) → scope (403) → rate limit (429) → fault
(latency, 5xx) → query (400) → page, delivered whole, cut short or dropped.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shoplake.config import Settings
from shoplake.supplier import faults
from shoplake.supplier.auth import AuthError, RateLimiter, TokenIssuer, client_credentials
from shoplake.supplier.paging import InvalidRequestError, encode_cursor, parse_query
from shoplake.supplier.records import PRODUCTS, REVIEWS
from shoplake.supplier.store import SupplierStore, store_path

SCOPES = {PRODUCTS: "catalog:read", REVIEWS: "reviews:read"}


def ensure_store(settings: Settings, reseed: bool = False) -> SupplierStore:
    """The data dir's supplier store, seeded from the source first when new (or ``reseed``)."""
    store = SupplierStore(store_path(settings.data_dir))
    if reseed or not store.exists():
        store.seed_from_source(settings.source_url)
    return store


def create_app(settings: Settings, store: SupplierStore | None = None) -> FastAPI:
    """The supplier API over ``store`` (default: the data dir's, seeded on first use)."""
    supplier = settings.supplier
    store = store or ensure_store(settings)
    issuer = TokenIssuer(supplier)
    limiter = RateLimiter(supplier.rate_limit_per_second, supplier.rate_limit_burst)
    sequence = itertools.count(1)
    faults.quiet_drops()
    app = FastAPI(
        title="Supplier API (local)",
        description="A vendor's catalog and reviews, OAuth2 client credentials, keyset pages.",
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: no authentication, no faults."""
        return {"status": "ok"}

    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        """OAuth2 client-credentials grant (form-encoded; HTTP Basic client auth accepted)."""
        form = client_credentials(await request.body(), request.headers.get("authorization"))
        try:
            return JSONResponse(issuer.issue(form), headers={"Cache-Control": "no-store"})
        except AuthError as exc:
            status = 401 if exc.error == "invalid_client" else 400
            body = {"error": exc.error, "error_description": exc.description}
            return JSONResponse(body, status)

    async def serve(resource: str, request: Request) -> Response:
        try:
            granted = issuer.check(request.headers.get("authorization"))
        except AuthError as exc:
            return _unauthorized(exc)
        if SCOPES[resource] not in granted.scopes:
            body = {"error": "insufficient_scope", "required": SCOPES[resource]}
            return JSONResponse(body, 403)
        wait = limiter.retry_after(granted.client_id)
        if wait is not None:
            return JSONResponse({"error": "rate_limited"}, 429, {"Retry-After": str(wait)})
        fault = faults.decide(supplier.faults, next(sequence))
        if supplier.faults.latency_ms:
            await asyncio.sleep(supplier.faults.latency_ms / 1000)
        if fault.kind == "error":
            return faults.error_response(fault)
        params = request.query_params
        try:
            query = parse_query(
                resource, params.get("limit"), params.get("cursor"), params.get("updated_since")
            )
        except InvalidRequestError as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
        page = await run_in_threadpool(store.page, resource, query.after, query.since, query.limit)
        payload: dict[str, Any] = {
            "data": page.data,
            "next_cursor": encode_cursor(query, page.data[-1]) if page.has_more else None,
        }
        return faults.faulty_response(fault, payload)

    @app.get("/v1/products")
    async def products(request: Request) -> Response:
        """Products by ``(updated_at, sku)``; query ``limit``, ``cursor``, ``updated_since``."""
        return await serve(PRODUCTS, request)

    @app.get("/v1/reviews")
    async def reviews(request: Request) -> Response:
        """Reviews by ``(updated_at, review_id)``; same query as products."""
        return await serve(REVIEWS, request)

    return app


def _unauthorized(exc: AuthError) -> Response:
    """401 with the RFC 6750 challenge."""
    challenge = f'Bearer error="{exc.error}", error_description="{exc.description}"'
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, 401, {"WWW-Authenticate": challenge})


def run(
    settings: Settings, reseed: bool = False, announce: Callable[[str], object] = print
) -> None:
    """Serve the supplier API on 127.0.0.1:``supplier.port`` until interrupted."""
    import uvicorn

    store = ensure_store(settings, reseed)
    counts = store.counts()
    active = faults.active(settings.supplier.faults)
    faulted = ", ".join(f"{k}={v:g}" for k, v in active.items()) or "none"
    port = settings.supplier.port
    announce(
        f"supplier API on http://127.0.0.1:{port} (client {settings.supplier.client_id}; "
        f"{counts[PRODUCTS]} products, {counts[REVIEWS]} reviews; faults: {faulted}); "
        "Ctrl-C stops it"
    )
    app = create_app(settings, store)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning")
