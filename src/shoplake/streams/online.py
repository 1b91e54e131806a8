"""The online store's session state: what each live session viewed, carted and bought.

One Valkey hash per session (``session:<id>``) with a TTL, updated as events are read:
``last_event_time``, ``customer_number``, ``events``, ``recent_products`` (newest first, JSON),
``cart`` (product → quantity, JSON) and ``purchased`` (JSON). Updates are read-modify-write in
two pipelined round trips per batch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoplake.streams.events import Event

RECENT_PRODUCTS = 20
KEY_PREFIX = "session:"


def redis_client(url: str) -> Any:
    """A client for the valkey/redis server at ``url`` (whichever client package is installed)."""
    try:
        import valkey as client
    except ImportError:  # pragma: no cover - depends on the installed client
        import redis as client  # type: ignore[no-redef]
    return client.Redis.from_url(url, socket_timeout=10, decode_responses=True)


def merge_session(state: dict[str, str], events: list[Event]) -> dict[str, str]:
    """Fold a session's new events (in event-time order) into its stored state."""
    recent: list[str] = json.loads(state.get("recent_products", "[]"))
    cart: dict[str, int] = json.loads(state.get("cart", "{}"))
    purchased: list[str] = json.loads(state.get("purchased", "[]"))
    last = state.get("last_event_time", "")
    count = int(state.get("events", 0))
    customer = state.get("customer_number", "")
    for event in sorted(events, key=lambda e: e.event_time):
        count += 1
        stamp = event.event_time.isoformat()
        last = max(last, stamp)
        if event.customer_number is not None:
            customer = str(event.customer_number)
        code = event.product_code
        if code is None:
            continue
        if event.event_type in ("page_view", "add_to_cart"):
            recent = [code] + [p for p in recent if p != code]
        if event.event_type == "add_to_cart":
            cart[code] = cart.get(code, 0) + (event.quantity or 1)
        elif event.event_type == "remove_from_cart":
            left = cart.get(code, 0) - (event.quantity or 1)
            cart = {k: v for k, v in cart.items() if k != code} | ({code: left} if left > 0 else {})
        elif event.event_type == "purchase":
            cart.pop(code, None)
            if code not in purchased:
                purchased.append(code)
    return {
        "last_event_time": last,
        "customer_number": customer,
        "events": str(count),
        "recent_products": json.dumps(recent[:RECENT_PRODUCTS]),
        "cart": json.dumps(cart, sort_keys=True),
        "purchased": json.dumps(purchased),
    }


class SessionStore:
    """Session state in Valkey, expiring ``ttl_seconds`` after a session's last event."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self.client = redis_client(url)
        self.ttl = ttl_seconds

    def apply(self, events: list[Event]) -> None:
        """Update the state of every session these events belong to."""
        by_session: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_session[event.session_id].append(event)
        sessions = list(by_session)
        read = self.client.pipeline(transaction=False)
        for session in sessions:
            read.hgetall(KEY_PREFIX + session)
        states = read.execute()
        write = self.client.pipeline(transaction=False)
        for session, state in zip(sessions, states, strict=True):
            key = KEY_PREFIX + session
            write.hset(key, mapping=merge_session(state or {}, by_session[session]))
            write.expire(key, self.ttl)
        write.execute()

    def get(self, session_id: str) -> dict[str, Any] | None:
        """A session's state, decoded, or None when it has expired or never existed."""
        state = self.client.hgetall(KEY_PREFIX + session_id)
        if not state:
            return None
        decoded: dict[str, Any] = dict(state)
        for key in ("recent_products", "cart", "purchased"):
            decoded[key] = json.loads(state[key])
        decoded["events"] = int(state["events"])
        return decoded
