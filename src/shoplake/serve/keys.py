"""API keys at rest: created, listed and revoked in ``settings.api_keys_path``.

A key is ``slk_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 is stored,
with an id, a name, a role, the creation time and a revoked flag, in a JSON file of mode 0600
that is replaced atomically on every change. No FastAPI here: the CLI uses this module.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from shoplake.errors import ShoplakeError

if TYPE_CHECKING:
    from shoplake.config import Settings

Role = Literal["admin", "analyst", "app"]
ROLES: tuple[Role, ...] = get_args(Role)
KEY_PREFIX = "slk_"


class ApiKeyError(ShoplakeError):
    """An API key operation failed (unknown id, unknown role, unreadable key file)."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key: never its plaintext, only the SHA-256 of it."""

    key_id: str
    name: str
    role: Role
    created_at: str
    revoked: bool
    sha256: str

    def public(self) -> dict[str, Any]:
        """The key's description without its hash."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


# Key file ------------------------------------------------------------------------------------


def read_keys(path: Path) -> list[ApiKey]:
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_text())
        return [ApiKey(**entry) for entry in document["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiKeyError(f"{path}: not a shoplake API key file ({exc})") from None


def _write(path: Path, keys: list[ApiKey]) -> None:
    """Replace the key file atomically; it is readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": 1, "keys": [asdict(k) for k in keys]}, indent=2)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".api_keys.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w") as file:
            file.write(payload + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write of the key file between processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_key(settings: Settings, role: str, name: str = "") -> tuple[str, str]:
    """Add a key with ``role``; returns its id and its plaintext (shown once, never stored)."""
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    path = settings.api_keys_path
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = secrets.token_hex(6)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    key = ApiKey(
        key_id, name or f"{role} key", cast(Role, role), created, False, hash_key(plaintext)
    )
    with _locked(path):
        _write(path, [*read_keys(path), key])
    return key_id, plaintext


def list_keys(settings: Settings) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return read_keys(settings.api_keys_path)


def revoke_key(settings: Settings, key_id: str) -> ApiKey:
    """Mark a key revoked (it stays listed); returns it. Revoking twice is a no-op."""
    path = settings.api_keys_path
    with _locked(path):
        keys = read_keys(path)
        for index, key in enumerate(keys):
            if key.key_id == key_id:
                if not key.revoked:
                    keys[index] = ApiKey(**(asdict(key) | {"revoked": True}))
                    _write(path, keys)
                return keys[index]
    known = ", ".join(k.key_id for k in keys) or "none — `shoplake keys create`"
    raise ApiKeyError(f"no API key with id {key_id!r} (keys: {known})")
