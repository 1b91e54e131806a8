"""Faults the supplier API injects into its data endpoints, decided from a seed and the request's
sequence number, so the same seed gives the same faults on the same sequence of requests.

Kinds: ``error`` (a 500, 502 or 503 with a JSON body), ``drop`` (the connection closes
mid-body: the response declares more bytes than it sends), ``malformed`` (a 200 whose JSON body
is cut short). Latency is added to every data request, fault or not.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from shoplake.config import SupplierFaultSettings

ERROR_STATUSES = (500, 502, 503)
_ERROR_BODIES = {
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class Fault:
    """What happens to one data request: ``kind`` is None (served), error, drop or malformed."""

    sequence: int
    kind: str | None = None
    status: int = 200
    cut: float = 0.5  # share of the body sent before a drop or truncation


def decide(settings: SupplierFaultSettings, sequence: int) -> Fault:
    """The fault of data request number ``sequence`` (from 1) under ``settings``."""
    rng = random.Random(f"{settings.seed}:{sequence}")
    draw, cut, status = rng.random(), rng.uniform(0.1, 0.9), rng.choice(ERROR_STATUSES)
    thresholds = (
        ("error", settings.error_rate),
        ("drop", settings.drop_rate),
        ("malformed", settings.malformed_rate),
    )
    bound = 0.0
    for kind, rate in thresholds:
        bound += rate
        if draw < bound:
            return Fault(sequence, kind, status if kind == "error" else 200, cut)
    return Fault(sequence)


def active(settings: SupplierFaultSettings) -> dict[str, float]:
    """The faults switched on, by name (for the startup line)."""
    values = settings.model_dump(exclude={"seed"})
    return {name: value for name, value in values.items() if value}


def error_response(fault: Fault) -> Response:
    """The 5xx answer of an ``error`` fault."""
    name = _ERROR_BODIES[fault.status]
    return JSONResponse({"error": name, "error_description": "injected fault"}, fault.status)


def faulty_response(fault: Fault, payload: dict[str, Any]) -> Response:
    """``payload`` as ``fault`` delivers it: dropped mid-body, cut short, or whole."""
    body = json.dumps(payload).encode()
    sent = body[: max(1, min(len(body) - 1, int(len(body) * fault.cut)))]
    if fault.kind == "drop":
        return DroppedResponse(sent, declared=len(body))
    if fault.kind == "malformed":
        return Response(sent, media_type="application/json")
    return Response(body, media_type="application/json")


class DroppedResponse(Response):
    """A 200 that declares ``declared`` bytes, sends fewer, then has the server close the
    connection: the client sees a transport error (httpx: ``RemoteProtocolError``)."""

    def __init__(self, sent: bytes, declared: int) -> None:
        super().__init__(sent, media_type="application/json")
        self.declared = declared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(self.declared).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        raise InjectedDropError("injected fault: connection dropped mid-response")


class InjectedDropError(Exception):
    """Raised by a ``DroppedResponse`` after its partial body, so the server closes the
    connection (uvicorn does when an app fails after the response started)."""


class QuietDrops(logging.Filter):
    """Keeps the server's error log free of the tracebacks of injected drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the log record of an ``InjectedDropError``."""
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDropError))


def quiet_drops() -> None:
    """Install ``QuietDrops`` on uvicorn's error logger (once)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDrops) for f in logger.filters):
        logger.addFilter(QuietDrops())
