"""API keys with roles, hashed at rest, and the FastAPI dependency that enforces them.

A key is ``slk_`` followed by 32 random bytes (URL-safe base64); only its SHA-256 is stored,
in ``settings.api_keys_path`` (JSON, mode 0600, replaced atomically). Callers send it as
``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. Roles:

* ``app`` — the shop's website: recommendations, similar products, events;
* ``analyst`` — tables, SQL queries and analytics, with PII columns masked;
* ``admin`` — everything, PII in clear.

Each key has a token bucket (``serve.rate_limit_per_second``, ``serve.rate_limit_burst``).
"""

from __future__ import annotations

import hmac
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request

from shoplake.serve.keys import (
    ROLES,
    ApiKey,
    Role,
    create_key,
    hash_key,
    list_keys,
    read_keys,
    revoke_key,
)

if TYPE_CHECKING:
    from shoplake.config import Settings

__all__ = [
    "ROLES",
    "Caller",
    "Guard",
    "Role",
    "authorized_by",
    "create_key",
    "list_keys",
    "require_role",
    "revoke_key",
]

E = TypeVar("E", bound=Callable[..., Any])
HEADER = "x-api-key"
CHALLENGE = 'Bearer realm="shoplake", ApiKey header="X-API-Key"'
#: Attribute on the dependencies made by :func:`require_role` naming the roles they allow.
ROLES_ATTRIBUTE = "__shoplake_roles__"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id and role."""

    key_id: str
    role: Role

    @property
    def sees_pii(self) -> bool:
        return self.role == "admin"


class KeyRing:
    """The active keys by hash, reloaded whenever the key file's mtime changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, ApiKey] = {}

    def _refresh(self) -> None:
        try:
            status = os.stat(self.path)
            stamp = (status.st_mtime_ns, status.st_ino)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            keys = read_keys(self.path) if stamp != (0, 0) else []
            self._by_hash = {k.sha256: k for k in keys if not k.revoked}
            self._stamp = stamp

    def find(self, plaintext: str) -> ApiKey | None:
        """The active key with this plaintext, or None."""
        self._refresh()
        digest = hash_key(plaintext)
        key = self._by_hash.get(digest)
        if key is None or not hmac.compare_digest(key.sha256, digest):
            return None
        return key


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, list[float]] = {}
        self.limited = 0

    def wait_seconds(self, key_id: str) -> float:
        """0 when a request may go now (and take a token); else the seconds until it may."""
        now = time.monotonic()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        self.limited += 1
        return (1.0 - tokens) / self.rate


@dataclass
class Guard:
    """What :func:`require_role` needs at request time (kept on ``app.state.guard``)."""

    keys: KeyRing
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        serve = settings.serve
        return cls(
            KeyRing(settings.api_keys_path),
            RateLimiter(serve.rate_limit_per_second, serve.rate_limit_burst),
        )


def presented_key(request: Request) -> str | None:
    """The key a request carries in ``X-API-Key`` or ``Authorization: Bearer``."""
    headers = request.headers
    key = headers.get(HEADER)
    if key:
        return key
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def require_role(*roles: Role) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency admitting keys with one of ``roles`` (admin always passes).

    No, unknown or revoked key → 401 with ``WWW-Authenticate``; another role → 403 naming the
    roles allowed; over the key's rate → 429 with ``Retry-After``.
    """
    allowed = frozenset(roles) | {"admin"}
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    names = ", ".join(r for r in ROLES if r in allowed)

    async def dependency(request: Request) -> Caller:
        guard: Guard = request.app.state.guard
        plaintext = presented_key(request)
        if plaintext is None:
            raise HTTPException(
                401,
                "missing API key: send it as X-API-Key or Authorization: Bearer",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        key = guard.keys.find(plaintext)
        if key is None:
            raise HTTPException(
                401, "invalid or revoked API key", headers={"WWW-Authenticate": CHALLENGE}
            )
        if key.role not in allowed:
            raise HTTPException(
                403, f"role {key.role!r} may not call this endpoint; allowed roles: {names}"
            )
        wait = guard.limiter.wait_seconds(key.key_id)
        if wait > 0:
            raise HTTPException(
                429,
                f"rate limit of {guard.limiter.rate:g} requests/s for key {key.key_id} exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return Caller(key.key_id, key.role)

    setattr(dependency, ROLES_ATTRIBUTE, tuple(r for r in ROLES if r in allowed))
    return dependency


def authorized_by(dependency: Callable[[Request], Awaitable[Caller]]) -> Callable[[E], E]:
    """Mark an endpoint that awaits a :func:`require_role` dependency itself rather than
    declaring it (a hot path that skips dependency injection), so that the OpenAPI document
    still names its roles."""

    def mark(endpoint: E) -> E:
        setattr(endpoint, ROLES_ATTRIBUTE, getattr(dependency, ROLES_ATTRIBUTE))
        return endpoint

    return mark
