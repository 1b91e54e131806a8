"""The shoplake API (`shoplake serve`): is it up, is it shoplake, is the API key accepted.

Auth presents ``doctor.api_key`` (or ``SHOPLAKE_API_KEY``) on ``GET /tables/doctor/probe``:
the key is checked before the route runs, so 401 means the key is refused, 403 that its role
may not read tables (an ``app`` key) and 404 that it may — no lakehouse work is done. A refused
key is looked up in this data dir's key file to say whether it was revoked or never existed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shoplake.ops.doctor import Failed, Limits, Measured, Skipped
from shoplake.ops.probes.http import HttpProbe, json_body

if TYPE_CHECKING:
    from shoplake.config import Settings

KEY_ENV = "SHOPLAKE_API_KEY"
AUTH_PATH = "/tables/doctor/probe"
CREATE = "`shoplake keys create --role analyst`"
_LOCAL_NAMES = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def api_base_url(settings: Settings) -> str:
    """Where to reach the API ``serve.host``/``serve.port`` bind (a wildcard → loopback)."""
    host = _LOCAL_NAMES.get(settings.serve.host, settings.serve.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.serve.port}"


class ApiProbe(HttpProbe):
    """The shoplake API of these settings."""

    def __init__(self, settings: Settings, limits: Limits) -> None:
        super().__init__(
            "shoplake API",
            api_base_url(settings),
            "serve.port",
            "run `shoplake serve`, or fix serve.host/serve.port",
            limits,
        )
        self.settings = settings
        configured = settings.doctor.api_key
        self.key = (configured.get_secret_value() if configured else None) or os.environ.get(
            KEY_ENV
        )
        self.role: str | None = None

    def auth(self) -> str:
        self._check_health()
        if not self.key:
            self.warning = "API key not probed: set doctor.api_key or SHOPLAKE_API_KEY"
            raise Skipped(
                "no API key configured: set doctor.api_key (or SHOPLAKE_API_KEY) to a key "
                f"from {CREATE} to probe it"
            )
        response = self.request("GET", AUTH_PATH, headers={"X-API-Key": self.key})
        if response.status_code == 401:
            raise self._refused()
        if response.status_code not in (403, 404):
            raise self.unexpected(response, "401, 403 or 404")
        guess = "app" if response.status_code == 403 else "analyst or admin"
        self.role = self._local_role() or guess
        return f"API key accepted (role {self.role})"

    def _check_health(self) -> None:
        response = self.request("GET", "/health")
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or "backends" not in body:
            raise Failed(
                f"{self.base_url} answers GET /health with {response.status_code} but is not "
                "the shoplake API",
                "another program holds serve.port: stop it or change serve.port",
            )
        down = [
            f"{name}: {state.get('detail', 'down')}"
            for name, state in body["backends"].items()
            if isinstance(state, dict) and state.get("state") != "ok"
        ]
        if down:
            self.warning = "API degraded — " + "; ".join(down)

    def _stored_key(self) -> Any:
        from shoplake.serve.keys import hash_key, read_keys

        assert self.key is not None
        digest = hash_key(self.key)
        try:
            keys = read_keys(self.settings.api_keys_path)
        except Exception:  # an unreadable key file: no local insight, the 401 stands
            return None
        return next((k for k in keys if k.sha256 == digest), None)

    def _local_role(self) -> str | None:
        stored = self._stored_key()
        return None if stored is None else str(stored.role)

    def _refused(self) -> Failed:
        stored = self._stored_key()
        listing = "`shoplake keys list` shows the keys and which are revoked"
        if stored is not None and stored.revoked:
            return Failed(
                f"API key {stored.key_id} ({stored.name or stored.role}) was revoked",
                f"create a new key with {CREATE} and set doctor.api_key; {listing}",
            )
        if stored is not None:
            return Failed(
                f"the API refuses key {stored.key_id}, valid in {self.settings.api_keys_path}: "
                "the server reads another data dir",
                f"start `shoplake serve --data-dir {self.settings.data_dir}` or use a key of "
                "the server's data dir",
            )
        return Failed(
            "the API key is unknown to the server (401 invalid or revoked API key)",
            f"create one with {CREATE} and set doctor.api_key; {listing}",
        )

    def permission(self) -> str:
        if self.role is None:
            raise Skipped("no API key probed")
        if self.role == "app":
            return "role app: recommendations, similar products and events (no tables or SQL)"
        return f"role {self.role}: tables, SQL and analytics" + (
            " (PII in clear)" if self.role == "admin" else " (PII masked)"
        )

    def latency(self) -> Measured:
        return self.limits.latency(
            lambda: self.request("GET", "/metrics"),
            "GET /metrics",
            f"the API at {self.address} is slow: check its load (`shoplake serve` logs)",
        )
