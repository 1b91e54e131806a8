"""The online store's session state: what each live session viewed, carted and bought.

One Valkey hash per session (``session:<id>``) with a TTL. It keeps the session's recent
events keyed by ``event_id`` (field ``log``) and, derived from them in event-time order, what
readers use: ``last_event_time``, ``customer_number``, ``events``, ``recent_products``
(newest first), ``cart`` (product → quantity) and ``purchased``. Because the state is a fold
over events keyed by id, applying an event twice (a processor restarted after a crash reads
it again) or late (after newer ones) gives the same state as applying it once, in order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoplake.streams.events import Event

RECENT_PRODUCTS = 20
MAX_LOGGED_EVENTS = 500  # per session; the oldest are forgotten first (bots make long sessions)
KEY_PREFIX = "session:"
DERIVED = ("recent_products", "cart", "purchased")


def redis_client(url: str) -> Any:
    """A client for the valkey/redis server at ``url`` (whichever client package is installed)."""
    try:
        import valkey as client
    except ImportError:  # pragma: no cover - depends on the installed client
        import redis as client  # type: ignore[no-redef]
    return client.Redis.from_url(url, socket_timeout=10, decode_responses=True)


def _entry(event: Event) -> list[Any]:
    return [
        event.event_time.isoformat(),
        event.event_type,
        event.product_code,
        event.quantity,
        event.customer_number,
    ]


def fold(log: dict[str, list[Any]]) -> dict[str, str]:
    """The derived session fields from its logged events, folded in (time, event_id) order."""
    recent: list[str] = []
    cart: dict[str, int] = {}
    purchased: list[str] = []
    customer = ""
    ordered = sorted(log.items(), key=lambda item: (item[1][0], item[0]))
    for _event_id, (_time, kind, code, quantity, customer_number) in ordered:
        if customer_number is not None:
            customer = str(customer_number)
        if code is None:
            continue
        if kind in ("page_view", "add_to_cart"):
            recent = [code] + [p for p in recent if p != code]
        if kind == "add_to_cart":
            cart[code] = cart.get(code, 0) + (quantity or 1)
        elif kind == "remove_from_cart":
            left = cart.pop(code, 0) - (quantity or 1)
            if left > 0:
                cart[code] = left
        elif kind == "purchase":
            cart.pop(code, None)
            if code not in purchased:
                purchased.append(code)
    return {
        "last_event_time": ordered[-1][1][0] if ordered else "",
        "customer_number": customer,
        "events": str(len(log)),
        "recent_products": json.dumps(recent[:RECENT_PRODUCTS]),
        "cart": json.dumps(cart, sort_keys=True),
        "purchased": json.dumps(purchased),
    }


def merge_session(state: dict[str, str], events: list[Event]) -> dict[str, str]:
    """Add events to a session's stored state (idempotent, whatever the arrival order)."""
    log: dict[str, list[Any]] = json.loads(state.get("log", "{}"))
    for event in events:
        log[event.event_id] = _entry(event)
    if len(log) > MAX_LOGGED_EVENTS:
        newest = sorted(log.items(), key=lambda item: (item[1][0], item[0]))[-MAX_LOGGED_EVENTS:]
        log = dict(newest)
    return {"log": json.dumps(log, separators=(",", ":"))} | fold(log)


class SessionStore:
    """Session state in Valkey, expiring ``ttl_seconds`` after a session's last event."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self.client = redis_client(url)
        self.ttl = ttl_seconds

    def apply(self, events: list[Event]) -> dict[str, dict[str, Any]]:
        """Update the state of every session these events belong to; returns the sessions'
        new states, decoded as :meth:`get` returns them, in order of first appearance."""
        by_session: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_session[event.session_id].append(event)
        sessions = list(by_session)
        read = self.client.pipeline(transaction=False)
        for session in sessions:
            read.hgetall(KEY_PREFIX + session)
        states = read.execute()
        write = self.client.pipeline(transaction=False)
        merged: dict[str, dict[str, Any]] = {}
        for session, state in zip(sessions, states, strict=True):
            key = KEY_PREFIX + session
            fields = merge_session(state or {}, by_session[session])
            write.hset(key, mapping=fields)
            write.expire(key, self.ttl)
            merged[session] = _decoded(fields) or {}
        write.execute()
        return merged

    def get(self, session_id: str) -> dict[str, Any] | None:
        """A session's state, decoded, or None when it has expired or never existed."""
        return _decoded(self.client.hgetall(KEY_PREFIX + session_id))


def _decoded(state: dict[str, str] | None) -> dict[str, Any] | None:
    if not state:
        return None
    decoded: dict[str, Any] = {k: v for k, v in state.items() if k != "log"}
    for key in DERIVED:
        decoded[key] = json.loads(state[key])
    decoded["events"] = int(state["events"])
    return decoded
