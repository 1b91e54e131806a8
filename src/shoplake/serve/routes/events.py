"""``POST /events``: the website's tracker sends a batch of clickstream events.

Each event is checked against the event schema (:func:`shoplake.streams.events.validate`,
product codes against the lakehouse's); valid ones go onto the event log keyed by session, in
the order given. All valid → 202 ``{accepted}``; some invalid → 422 ``{accepted, rejected:
[{index, event_id, reason}]}`` — and the valid ones of that batch are accepted all the same.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from shoplake.serve.auth import Caller, require_role
from shoplake.serve.responses import error, json_response, serve_state
from shoplake.serve.schemas import Detail, EventsAccepted, EventsRejected, documented
from shoplake.streams.events import Event, encode, parse, validate

if TYPE_CHECKING:
    from shoplake.serve.state import ServeState

router = APIRouter(tags=["events"])
MAX_BATCH = 5_000
MAX_BODY_BYTES = 8 * 1024 * 1024

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a clickstream event, schema version 1 (see shoplake.streams.events)",
    "properties": {
        "event_id": {"type": "string"},
        "event_type": {
            "type": "string",
            "enum": ["page_view", "add_to_cart", "remove_from_cart", "purchase", "search"],
        },
        "event_time": {"type": "string", "format": "date-time"},
        "session_id": {"type": "string"},
        "customer_number": {"type": ["integer", "null"]},
        "product_code": {"type": ["string", "null"]},
        "quantity": {"type": ["integer", "null"]},
        "price": {"type": ["number", "null"]},
        "device": {"type": "string", "enum": ["web", "mobile", "app", "bot"]},
        "query": {"type": ["string", "null"]},
        "schema_version": {"type": "integer", "enum": [1]},
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "maxItems": MAX_BATCH, "items": _EVENT_SCHEMA}
            }
        },
    }
}


@router.post(
    "/events",
    summary="Send clickstream events",
    status_code=202,
    response_class=Response,
    openapi_extra=_BODY,
    responses={
        202: documented(EventsAccepted, "Every event was valid and is on the event log."),
        400: documented(Detail, "The body is not a JSON array of at most 5,000 events."),
        422: documented(EventsRejected, "Some events were invalid; the valid ones are accepted."),
    },
)
async def post_events(
    request: Request, caller: Annotated[Caller, Depends(require_role("app"))]
) -> Response:
    """Validate a JSON array of events and put the valid ones on the event log."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return error(413, f"body larger than {MAX_BODY_BYTES:,} bytes: send smaller batches")
    try:
        batch = parse(body)
    except ValueError as exc:
        return error(400, f"body is not JSON: {exc}")
    if not isinstance(batch, list):
        return error(400, "body must be a JSON array of events")
    if len(batch) > MAX_BATCH:
        return error(400, f"{len(batch):,} events in one batch; send at most {MAX_BATCH:,}")
    state = serve_state(request)
    accepted, rejected = await run_in_threadpool(_land, state, batch)
    metrics = request.app.state.metrics
    metrics.events_accepted += accepted
    metrics.events_rejected += len(rejected)
    if rejected:
        return json_response({"accepted": accepted, "rejected": rejected}, 422)
    return json_response({"accepted": accepted}, 202)


def _land(state: ServeState, batch: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Validate each event, produce the valid ones; returns (accepted, rejected details)."""
    now = dt.datetime.now(dt.UTC)
    known = state.known_products()
    payloads, keys, rejected = [], [], []
    for index, item in enumerate(batch):
        reason = not_unicode(item)
        if reason is None:
            raw = json.dumps(item, ensure_ascii=False).encode()
            result = validate(raw, known_products=known, now=now)
            if isinstance(result, Event):
                payloads.append(encode(result))
                keys.append(result.session_id)
                continue
            reason = result.reason
        event_id = item.get("event_id") if isinstance(item, dict) else None
        rejected.append(
            {
                "index": index,
                "event_id": event_id if isinstance(event_id, str) else None,
                "reason": reason,
            }
        )
    if payloads:
        state.event_log().produce(payloads, keys)
    return len(payloads), rejected


def not_unicode(item: Any, where: str = "") -> str | None:
    """The reason an event cannot be stored as UTF-8 text — a field (or field name) holding a
    lone surrogate, which JSON may escape (``"\\ud800"``) but no UTF-8 text can hold — else
    None."""
    if isinstance(item, str):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where or 'the event'}: not valid Unicode (a lone surrogate)"
        return None
    if isinstance(item, dict):
        for name, value in item.items():
            if not_unicode(name) is not None:
                return "a field name is not valid Unicode (a lone surrogate)"
            found = not_unicode(value, where or f"field {name!r}")
            if found is not None:
                return found
    elif isinstance(item, list):
        for value in item:
            found = not_unicode(value, where)
            if found is not None:
                return found
    return None
