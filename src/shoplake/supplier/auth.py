"""OAuth2 client credentials for the supplier API: clients, bearer tokens, per-client rate limits.

Tokens live in the server's memory (one process): restarting the server revokes them all.
"""

from __future__ import annotations

import base64
import math
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from shoplake.config import SupplierSettings

ALL_SCOPES = ("catalog:read", "reviews:read")


@dataclass(frozen=True)
class Token:
    """An issued access token."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float  # time.monotonic()


class AuthError(Exception):
    """A request's credentials are refused: ``error`` and ``description`` as in RFC 6749/6750."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def allowed_clients(settings: SupplierSettings) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every client the API accepts: id → (secret, scopes); the configured one gets all scopes."""
    clients = {
        cid: (c.secret.get_secret_value(), tuple(c.scopes)) for cid, c in settings.clients.items()
    }
    clients[settings.client_id] = (settings.client_secret.get_secret_value(), ALL_SCOPES)
    return clients


def client_credentials(form_body: bytes, authorization: str | None) -> dict[str, str]:
    """The token request's parameters (form-encoded), client id and secret from HTTP Basic
    authentication when the form has none."""
    form = {k: v[0] for k, v in parse_qs(form_body.decode(errors="replace")).items()}
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except ValueError:
            decoded = ""
        user, _, password = decoded.partition(":")
        form.setdefault("client_id", unquote(user))
        form.setdefault("client_secret", unquote(password))
    return form


@dataclass
class TokenIssuer:
    """Issues and checks bearer tokens for the configured clients."""

    settings: SupplierSettings
    tokens: dict[str, Token] = field(default_factory=dict)

    def issue(self, form: dict[str, str]) -> dict[str, object]:
        """The token response for a client-credentials request; ``AuthError`` when refused."""
        if form.get("grant_type") != "client_credentials":
            raise AuthError("unsupported_grant_type", "only client_credentials is supported")
        known = allowed_clients(self.settings).get(form.get("client_id", ""))
        if known is None or not secrets.compare_digest(known[0], form.get("client_secret", "")):
            raise AuthError("invalid_client", "unknown client or wrong secret")
        requested = form.get("scope", "").split()
        scopes = tuple(s for s in known[1] if not requested or s in requested)
        ttl, now = self.settings.token_ttl_seconds, time.monotonic()
        self.tokens = {v: t for v, t in self.tokens.items() if t.expires_at > now - 3600}
        value = secrets.token_urlsafe(32)
        self.tokens[value] = Token(form["client_id"], scopes, now + ttl)
        return {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": max(1, math.floor(ttl)),
            "scope": " ".join(scopes),
        }

    def check(self, authorization: str | None) -> Token:
        """The live token of an ``Authorization: Bearer`` header; ``AuthError`` otherwise."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("invalid_token", "missing bearer token")
        token = self.tokens.get(value.strip())
        if token is None:
            raise AuthError("invalid_token", "unknown token")
        if time.monotonic() >= token.expires_at:
            raise AuthError("invalid_token", "token expired")
        return token


@dataclass
class RateLimiter:
    """A token bucket per client: ``rate`` requests a second sustained, ``burst`` at once."""

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def retry_after(self, client_id: str) -> int | None:
        """Take one request from the client's bucket: None when allowed, else the whole seconds
        (≥ 1) to wait before the next request would be."""
        now = time.monotonic()
        tokens, at = self.buckets.get(client_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self.buckets[client_id] = (tokens - 1.0, now)
            return None
        self.buckets[client_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
