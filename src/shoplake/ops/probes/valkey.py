"""Valkey (or Redis): the event log's streams and the online store's keys.

Both endpoints share one server (``stream.url``, default the local valkey of ``shoplake up``);
they differ in the keys they touch: the event log appends to ``<prefix>:<shard>`` streams,
the online store keeps ``session:<id>`` hashes and ``recs:customer:<n>`` / ``recs:session:<id>``
strings. Write probes use short-lived keys under those patterns and delete them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from shoplake.ops.doctor import Failed, Limits, Measured
from shoplake.ops.probes.network import Address, NetworkProbe

PROBE_TTL_SECONDS = 30
CONFIG_KEY = "stream.url"
_NOPERM_COMMAND = re.compile(r"to run the '([^']+)' command")

#: One step of a permission probe: what it shows, the key, and the call on a client.
Step = tuple[str, str, Callable[[Any], object]]


def valkey_address(url: str, start_fix: str) -> Address:
    """The address a ``redis://``, ``rediss://`` or ``unix://`` URL points at."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return Address("localhost", 0, CONFIG_KEY, start_fix, unix_path=parts.path)
    return Address(parts.hostname or "localhost", parts.port or 6379, CONFIG_KEY, start_fix)


def _user(url: str) -> str:
    return unquote(urlsplit(url).username or "") or "default"


class ValkeyProbe(NetworkProbe):
    """The layers of one valkey endpoint; ``steps`` make its permission probe."""

    plain = "RESP (valkey without TLS)"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        start_fix: str,
        steps: Sequence[Step],
        limits: Limits,
    ) -> None:
        scheme = urlsplit(url).scheme
        tls_skipped = None
        if scheme == "unix":
            tls_skipped = "Unix socket"
        elif scheme != "rediss":
            tls_skipped = f"not requested ({scheme}://)"
        tls_fix = f"use redis:// in {CONFIG_KEY}, or enable TLS on the server (tls-port)"
        address = valkey_address(url, start_fix)
        super().__init__(name, url, address, limits, tls_skipped=tls_skipped, tls_fix=tls_fix)
        self.url = url
        self.steps = steps
        self.client: Any = None

    def auth(self) -> str:
        import valkey
        from valkey.exceptions import AuthenticationError, ValkeyError

        self.client = valkey.Valkey.from_url(
            self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
        )
        try:
            self.client.ping()
        except AuthenticationError as exc:
            raise self._auth_failure(str(exc)) from None
        except ValkeyError as exc:
            raise Failed(
                f"{self.address} does not answer PING like valkey/redis: {exc}",
                f"check that {CONFIG_KEY} points at a valkey or redis server",
            ) from None
        user = _user(self.url)
        has_password = bool(urlsplit(self.url).password)
        return f"PING answered as user {user}" + ("" if has_password else " (no password)")

    def _auth_failure(self, message: str) -> Failed:
        user, where = _user(self.url), self.address
        example = f"redis://{user}:PASSWORD@{where}/0"
        if "without any password configured" in message:
            return Failed(
                f"a password was sent but {where} has none configured for user {user}",
                f"remove the password from {CONFIG_KEY}, or set one on the server (requirepass)",
            )
        if "required" in message.lower():
            return Failed(
                f"{where} requires a password (NOAUTH) and {CONFIG_KEY} gives none",
                f"put the password in {CONFIG_KEY}: {example}",
            )
        return Failed(
            f"wrong password for user {user} on {where} (WRONGPASS), or the user is disabled",
            f"fix the password in {CONFIG_KEY} ({example}); `ACL LIST` on the server shows users",
        )

    def permission(self) -> str:
        from valkey.exceptions import NoPermissionError

        done = []
        for what, key, call in self.steps:
            try:
                call(self.client)
            except NoPermissionError as exc:
                raise self._denied(str(exc), what, key) from None
            done.append(what)
        return ", ".join(done)

    def _denied(self, message: str, what: str, key: str) -> Failed:
        user = _user(self.url)
        command = _NOPERM_COMMAND.search(message)
        if command:
            name = command.group(1).upper()
            return Failed(
                f"NOPERM: user {user} may not run {name} ({what} on key {key})",
                f"grant it on the server: ACL SETUSER {user} +{name.lower()}, or use another "
                f"user in {CONFIG_KEY}",
            )
        pattern = key.split(":", 1)[0] + ":*"
        return Failed(
            f"NOPERM: user {user} may not access key {key} ({what})",
            f"grant the key pattern on the server: ACL SETUSER {user} ~{pattern}",
        )

    def latency(self) -> Measured:
        return self.limits.latency(
            self.client.ping,
            "PING",
            f"{self.address} answers slowly: check its load (INFO, SLOWLOG GET) and the network",
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _probe_id() -> str:
    return f"doctor-{uuid.uuid4().hex[:12]}"


def event_log_steps(prefix: str) -> list[Step]:
    """Read the first shard's stream; append to and delete a probe stream beside it."""
    shard = f"{prefix}:0"
    probe = f"{prefix}:{_probe_id()}"

    def append(client: Any) -> None:
        client.xadd(probe, {"doctor": "probe"}, maxlen=1)
        client.delete(probe)

    return [
        ("read XLEN", shard, lambda c: c.xlen(shard)),
        ("write XADD+DEL", probe, append),
    ]


def online_store_steps() -> list[Step]:
    """Read and write (expiring, then deleted) a session hash and a recommendations key."""
    from shoplake.ml.realtime import CUSTOMER_RECS_PREFIX
    from shoplake.streams.online import KEY_PREFIX as SESSION_PREFIX

    session = f"{SESSION_PREFIX}{_probe_id()}"
    recs = f"{CUSTOMER_RECS_PREFIX}{_probe_id()}"

    def write_session(client: Any) -> None:
        client.hset(session, mapping={"doctor": "probe"})
        client.expire(session, PROBE_TTL_SECONDS)
        client.delete(session)

    def write_recs(client: Any) -> None:
        client.set(recs, "[]", ex=PROBE_TTL_SECONDS)
        client.delete(recs)

    return [
        ("read HGETALL", session, lambda c: c.hgetall(session)),
        ("read GET", recs, lambda c: c.get(recs)),
        ("write HSET+EXPIRE+DEL", session, write_session),
        ("write SET EX+DEL", recs, write_recs),
    ]
