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
    which JSON lacks, become strings)."""
    try:
        body = _dumps(payload)
    except ValueError:
        body = _dumps(_finite(payload))
    return Response(body, status_code=status_code, media_type=JSON)


def _dumps(payload: Any) -> str:
    return json.dumps(
        payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error(status_code: int, detail: str) -> Response:
    """An error body shaped like FastAPI's own: ``{"detail": ...}``."""
    return json_response({"detail": detail}, status_code)
