"""The FastAPI application: recommendations, events, tables, SQL, health and metrics.

``create_app(settings)`` builds one app around one :class:`~shoplake.platform.Platform`. Every
route but ``/health``, ``/metrics`` and the documentation needs an API key (:mod:`.auth`);
the OpenAPI document (``/openapi.json``, browsable at ``/docs``, which works offline: see
:mod:`.routes.docs`) names the roles each allows.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Route

import shoplake
from shoplake.errors import (
    QueryError,
    QueryRefusedError,
    ShoplakeError,
    TableNotFoundError,
)
from shoplake.serve.auth import ROLES_ATTRIBUTE, Guard
from shoplake.serve.metrics import Metrics, MetricsMiddleware
from shoplake.serve.responses import validation_error
from shoplake.serve.state import ServeState

if TYPE_CHECKING:
    from shoplake.config import Settings

#: Routers of this package, always present.
CORE_ROUTERS = ("recommendations", "events", "tables", "query", "health", "docs")
#: Routers of the dashboard, included when their modules exist.
OPTIONAL_ROUTERS = ("shoplake.serve.routes.analytics", "shoplake.serve.dashboard")

DESCRIPTION = """\
Recommendations, clickstream events and read-only analytics over the shoplake lakehouse.

Authenticate with an API key (`shoplake keys create --role R`) sent as `X-API-Key: <key>` or
`Authorization: Bearer <key>`. Roles: **app** — recommendations, similar products, events;
**analyst** — tables, SQL and analytics with PII columns masked; **admin** — everything, PII
in clear. Each key is rate limited; over the limit, responses are 429 with `Retry-After`.
"""

_log = logging.getLogger(__name__)
_STATUS_OF_ERROR: tuple[tuple[type[ShoplakeError], int], ...] = (
    (TableNotFoundError, 404),
    (QueryRefusedError, 400),
    (QueryError, 400),
)

_ERROR_BODY: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
        }
    }
}
_AUTH_RESPONSES = {
    "401": "No API key, or an unknown or revoked one (see `WWW-Authenticate`).",
    "403": "The key's role may not call this endpoint.",
    "429": "The key's rate limit is exceeded (see `Retry-After`).",
}


def create_app(settings: Settings) -> FastAPI:
    """The API over the platform ``settings`` describe."""
    from shoplake.platform import Platform

    state = ServeState(Platform(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with suppress(ShoplakeError):  # reported by /health; requests needing it get 503
            state.model()  # warm: the first request should not pay for loading the model
        yield
        await state.close()

    app = FastAPI(
        title="shoplake",
        version=shoplake.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN: routes.docs serves /docs locally
        redoc_url=None,
    )
    app.state.serve = state
    app.state.guard = Guard.from_settings(settings)
    app.state.metrics = metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(ShoplakeError, _shoplake_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    routers = [importlib.import_module(f"shoplake.serve.routes.{n}").router for n in CORE_ROUTERS]
    for name in OPTIONAL_ROUTERS:
        try:
            routers.append(importlib.import_module(name).router)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    for router in routers:
        app.include_router(router)
    routes = [r for r in app.routes if isinstance(r, Route)]
    routes += [r for router in routers for r in router.routes if isinstance(r, Route)]
    metrics.fixed_paths = frozenset(r.path for r in routes if "{" not in r.path)
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    app.openapi = lambda: _openapi(app, api_routes)  # type: ignore[method-assign]
    return app


async def _shoplake_error(request: Request, exc: Exception) -> JSONResponse:
    """A shoplake error as JSON: its one-line message, with a status by its kind.

    A broken table file is a 503 naming the table only: the file's path is the server's
    layout, which a client cannot act on; the server's log names it."""
    from shoplake.lake.integrity import CorruptTableError

    if isinstance(exc, CorruptTableError):
        _log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": exc.public_message, "table": exc.table}, status_code=503)
    status = next((code for kind, code in _STATUS_OF_ERROR if isinstance(exc, kind)), 503)
    from shoplake.redact import redact  # the last guard: no secret reaches a client

    return JSONResponse({"detail": redact(str(exc))}, status_code=status)


def _openapi(app: FastAPI, api_routes: list[APIRoute]) -> dict[str, Any]:
    """The generated schema, plus the API-key security schemes and each route's roles."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    for route in api_routes:
        roles = _roles(route)
        if not roles:
            continue
        path = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = path.get(method.lower())
            if operation is None:
                continue
            operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
            responses = operation.setdefault("responses", {})
            for status, meaning in _AUTH_RESPONSES.items():
                responses.setdefault(status, {"description": meaning, **_ERROR_BODY})
            note = f"Roles: {', '.join(roles)}."
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    app.openapi_schema = schema
    return schema


def _roles(route: APIRoute) -> tuple[str, ...] | None:
    """The roles a route's :func:`~shoplake.serve.auth.require_role` dependency allows."""
    marked = getattr(route.endpoint, ROLES_ATTRIBUTE, None)
    if marked is not None:
        return tuple(marked)
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        roles = getattr(dependant.call, ROLES_ATTRIBUTE, None)
        if roles is not None:
            return tuple(roles)
        pending.extend(dependant.dependencies)
    return None
