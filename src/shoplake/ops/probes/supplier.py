"""The supplier's REST API: OAuth2 client credentials (or a static token), scopes, latency.

Contract: ``GET /health``; ``POST /oauth/token`` (client credentials) → ``access_token``; data
at ``GET /v1/products`` and ``GET /v1/reviews`` with ``Authorization: Bearer``: 401 with
``WWW-Authenticate: Bearer error="invalid_token", error_description="…"`` for a bad token,
403 ``{"error": "insufficient_scope", "required": "…"}`` for a missing scope, 429 when over
the rate limit.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shoplake.ops.doctor import Failed, Limits, Measured
from shoplake.ops.probes.http import HttpProbe, json_body

if TYPE_CHECKING:
    import httpx

    from shoplake.config import SupplierSettings

CONFIG_KEY = "supplier.url"
DATA_PATHS = ("/v1/products?limit=1", "/v1/reviews?limit=1")
SHORT_TOKEN_SECONDS = 60
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer …`` header."""
    return dict(_CHALLENGE.findall(response.headers.get("www-authenticate", "")))


class SupplierProbe(HttpProbe):
    """The supplier API of ``supplier`` settings; ``local`` when shoplake serves it itself."""

    def __init__(self, supplier: SupplierSettings, limits: Limits) -> None:
        self.supplier = supplier
        self.local = supplier.url is None
        start_fix = (
            "run `shoplake sources api` or set supplier.url"
            if self.local
            else f"start the supplier API or fix {CONFIG_KEY}"
        )
        super().__init__("supplier API", supplier.base_url(), CONFIG_KEY, start_fix, limits)
        self.token: str | None = None
        self.scopes = ""
        self.lifetime: float | None = None
        self.first: httpx.Response | None = None

    # auth ------------------------------------------------------------------------------------

    def auth(self) -> str:
        if self.supplier.token:
            self.token = self.supplier.token.get_secret_value()
            self._check_token("the static token in supplier.token")
            return "static bearer token (supplier.token) accepted"
        self.token = self._fetch_token()
        self._check_token(f"a fresh token for client {self.supplier.client_id}")
        return f"client {self.supplier.client_id} got a token ({self.scopes or 'no scopes'})"

    def _fetch_token(self) -> str:
        client_id = self.supplier.client_id
        response = self.request(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": self.supplier.client_secret.get_secret_value(),
            },
        )
        body = json_body(response)
        if response.status_code in (400, 401) and isinstance(body, dict):
            error = body.get("error", "")
            reason = body.get("error_description") or error
            raise Failed(
                f"client {client_id} rejected by {self.base_url}/oauth/token: {reason} ({error})",
                self._credentials_fix(),
            )
        if response.status_code == 404:
            raise Failed(
                f"{self.base_url} has no /oauth/token (404): not the supplier API",
                f"check {CONFIG_KEY}",
            )
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise self.unexpected(response, "a token")
        self.scopes = str(body.get("scope") or "")
        lifetime = body.get("expires_in")
        if isinstance(lifetime, int | float):
            self.lifetime = float(lifetime)
            if lifetime < SHORT_TOKEN_SECONDS:
                self.warning = f"tokens live only {lifetime:g} s (expires_in)"
        return str(body["access_token"])

    def _credentials_fix(self) -> str:
        fix = "fix supplier.client_id / supplier.client_secret"
        if self.local:
            fix += " (the local API accepts those and the clients in supplier.clients)"
        return fix

    def _check_token(self, which: str) -> None:
        response = self._data(DATA_PATHS[0])
        if response.status_code != 401:
            self.first = response
            return
        details = challenge(response)
        reason = details.get("error_description") or details.get("error") or "refused"
        fix = (
            "get a new token, or remove supplier.token to fetch tokens with "
            "supplier.client_id/client_secret"
            if self.supplier.token
            else "the supplier refuses its own tokens: check its clock and token settings"
        )
        raise Failed(f"{which} was refused: {reason} (401 invalid_token)", fix)

    def _data(self, path: str) -> httpx.Response:
        return self.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})

    # permission --------------------------------------------------------------------------------

    def permission(self) -> str:
        read = []
        for path in DATA_PATHS:
            reuse = path == DATA_PATHS[0] and self.first is not None
            response = self.first if reuse and self.first is not None else self._data(path)
            self._check_page(response, path)
            read.append(path.split("?", maxsplit=1)[0])
        return f"read {' and '.join(read)}"

    def _check_page(self, response: httpx.Response, path: str) -> None:
        body = json_body(response)
        endpoint = f"GET {path.split('?', maxsplit=1)[0]}"
        if response.status_code == 403 and isinstance(body, dict):
            raise self._missing_scope(endpoint, str(body.get("required") or "?"))
        if response.status_code == 401:
            reason = challenge(response).get("error_description", "token refused")
            lived = f" after {self.lifetime:g} s (expires_in)" if self.lifetime else ""
            raise Failed(
                f"the token stopped working during the probe: {reason}{lived}",
                "tokens expire before a client can use them: raise the supplier's token "
                "lifetime" + (" (supplier.token_ttl_seconds)" if self.local else ""),
            )
        if response.status_code != 200:
            raise self.unexpected(response, "a page of data")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise Failed(
                f"{endpoint} answered 200 but not a page ({{'data': [...], 'next_cursor': …}})",
                f"check that {CONFIG_KEY} points at the supplier API",
            )

    def _missing_scope(self, endpoint: str, scope: str) -> Failed:
        client = self.supplier.client_id
        if self.supplier.token:
            who, fix = "the token in supplier.token", f"use a token granted scope {scope}"
        elif self.local:
            who = f"client {client}"
            fix = f"add {scope} to supplier.clients.{client}.scopes (the local API's clients)"
        else:
            who, fix = f"client {client}", f"ask the supplier to grant client {client} {scope}"
        has = f"; it has {self.scopes}" if self.scopes else ""
        problem = f"{who} lacks scope {scope} for {endpoint} (403 insufficient_scope{has})"
        return Failed(problem, fix)

    # latency -------------------------------------------------------------------------------------

    def latency(self) -> Measured:
        faults = self.supplier.faults.latency_ms
        if self.local and faults > 0:
            fix = f"the local API adds supplier.faults.latency_ms={faults:g} ms: set it to 0"
        else:
            fix = f"the supplier API at {self.address} is slow: check with the supplier"
        return self.limits.latency(self._timed_page, f"GET {DATA_PATHS[0]}", fix)

    def _timed_page(self) -> None:
        self._check_page(self._data(DATA_PATHS[0]), DATA_PATHS[0])
