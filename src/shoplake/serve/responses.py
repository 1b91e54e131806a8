"""Helpers shared by the routes: the serving state and prebuilt JSON responses."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from fastapi import Response

if TYPE_CHECKING:
    from fastapi import Request

    from shoplake.serve.state import ServeState

JSON = "application/json"


def serve_state(request: Request) -> ServeState:
    """The app's :class:`~shoplake.serve.state.ServeState`."""
    state: ServeState = request.app.state.serve
    return state


def json_response(payload: Any, status_code: int = 200) -> Response:
    """``payload`` as compact JSON, without response-model validation (NaN and infinities,
    which JSON lacks, become strings; a lone surrogate a client sent is written escaped)."""
    try:
        body = _dumps(payload)
    except ValueError:
        payload = _finite(payload)
        body = _dumps(payload)
    try:
        data = body.encode()
    except UnicodeEncodeError:  # "\ud800" has no UTF-8 form; as a JSON escape it is valid
        data = _dumps(payload, ascii_only=True).encode()
    return Response(data, status_code=status_code, media_type=JSON)


def _dumps(payload: Any, *, ascii_only: bool = False) -> str:
    return json.dumps(
        payload, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=False, default=str
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 for a request that breaks its schema, written with :func:`json_response`
    so that an ``input`` holding ``1e400`` or a lone surrogate cannot turn it into a 500."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError

    problems = exc.errors() if isinstance(exc, RequestValidationError) else []
    return json_response({"detail": jsonable_encoder(problems)}, 422)


def error(status_code: int, detail: str) -> Response:
    """An error body shaped like FastAPI's own: ``{"detail": ...}``."""
    return json_response({"detail": detail}, status_code)
