"""Keyset pagination of the supplier API: query validation and opaque cursors.

A cursor is URL-safe base64 (no padding) of JSON ``{"r": resource, "u": updated_at, "i": id,
"s": updated_since}``: the last record served and the filter of the sequence, so the next page
starts strictly after that record whatever changed in between. A cursor belongs to its resource
and carries its own filter; ``updated_since`` given beside a cursor is ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from shoplake.supplier.records import ID_FIELDS, iso, parse_iso

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class InvalidRequestError(ValueError):
    """A query parameter is not valid (the API answers 400 invalid_request)."""


@dataclass(frozen=True)
class PageQuery:
    """Where a page starts and how long it is."""

    resource: str
    limit: int
    since: str | None
    after: tuple[str, str] | None


def parse_query(
    resource: str, limit: str | None, cursor: str | None, updated_since: str | None
) -> PageQuery:
    """Validate a data request's query; ``InvalidRequestError`` names the bad parameter."""
    size = _limit(limit)
    if cursor is not None:
        since, after = decode_cursor(resource, cursor)
        return PageQuery(resource, size, since, after)
    return PageQuery(resource, size, _since(updated_since), None)


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise InvalidRequestError(f"limit must be an integer, not {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_LIMIT}, not {value}")
    return value


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return iso(parse_iso(text))
    except ValueError:
        raise InvalidRequestError(f"updated_since is not an ISO 8601 timestamp: {text!r}") from None


def encode_cursor(query: PageQuery, last: dict[str, Any]) -> str:
    """The cursor of the page after the one ending with record ``last``."""
    state = {
        "r": query.resource,
        "u": last["updated_at"],
        "i": last[ID_FIELDS[query.resource]],
        "s": query.since,
    }
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(resource: str, cursor: str) -> tuple[str | None, tuple[str, str]]:
    """``(updated_since, (updated_at, id))`` of a cursor of ``resource``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = json.loads(raw)
        if state["r"] != resource:
            raise InvalidRequestError(f"cursor belongs to /v1/{state['r']}")
        since = None if state["s"] is None else iso(parse_iso(state["s"]))
        after = (iso(parse_iso(state["u"])), str(state["i"]))
    except InvalidRequestError:
        raise
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidRequestError("cursor is not valid") from None
    return since, after
