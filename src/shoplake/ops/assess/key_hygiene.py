"""Security: the API key file — its mode, stale keys, admin keys, and its absence."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from shoplake.cli.output import plural
from shoplake.ops.assess.secrets_scan import config_file

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ops.assess.model import Recorder
    from shoplake.serve.keys import ApiKey

#: Keys older than this should have been rotated (the CIS AWS Foundations Benchmark's 90-day
#: access-key rotation, applied to shoplake's keys).
MAX_KEY_AGE_DAYS = 90
#: At most this many active admin keys: each one reads every PII column in clear.
MAX_ADMIN_KEYS = 1
PRIVATE_MODE = 0o600


def check_keys(settings: Settings, rec: Recorder, now: dt.datetime | None = None) -> None:
    """Mode 0600, no active key older than :data:`MAX_KEY_AGE_DAYS`, at most
    :data:`MAX_ADMIN_KEYS` admin key, and a key file when the API is configured."""
    from shoplake.serve.keys import ApiKeyError, read_keys

    path = settings.api_keys_path
    if not path.exists():
        _missing(settings, rec)
        return
    mode = path.stat().st_mode & 0o777
    if mode != PRIVATE_MODE:
        others = bool(mode & 0o077)
        rec.finding(
            "keys-file-mode",
            "high" if others else "low",
            f"the API key file has mode {mode:o}, not 600",
            {"file": str(path), "mode": f"{mode:o}"},
            f"chmod 600 {path}",
        )
    try:
        keys = [k for k in read_keys(path) if not k.revoked]
    except ApiKeyError as exc:
        rec.finding(
            "keys-file-unreadable",
            "medium",
            "the API key file cannot be read: the API refuses every key",
            {"file": str(path), "error": str(exc)},
            "restore it from a backup or create new keys (`shoplake keys create --role R`)",
        )
        return
    _stale(keys, rec, now or dt.datetime.now(dt.UTC))
    _admins(keys, rec)
    if mode == PRIVATE_MODE:
        rec.passed("api keys", f"{path} mode 600, {len(keys)} active key(s)")


def _missing(settings: Settings, rec: Recorder) -> None:
    path = settings.api_keys_path
    configured = _serve_configured()
    if configured:
        rec.finding(
            "keys-file-missing",
            "medium",
            "the API is configured but has no key file: it will refuse every request",
            {"file": str(path), "configured by": configured},
            "create keys with `shoplake keys create --role app|analyst|admin`",
        )
    else:
        rec.passed("api keys", f"no key file at {path} and the API is not configured")


def _serve_configured() -> str | None:
    """Where the API's settings are given (config file ``[serve]`` or ``SHOPLAKE_SERVE…``)."""
    import tomllib

    for name in os.environ:
        if name.startswith("SHOPLAKE_SERVE"):
            return name
    path = config_file()
    try:
        if "serve" in tomllib.loads(path.read_text()):
            return f"{path} [serve]"
    except (OSError, ValueError):
        return None
    return None


def _stale(keys: list[ApiKey], rec: Recorder, now: dt.datetime) -> None:
    old = {}
    for key in keys:
        try:
            created = dt.datetime.fromisoformat(key.created_at)
        except ValueError:
            continue
        age = (now - created).days
        if age > MAX_KEY_AGE_DAYS:
            old[key.key_id] = f"{key.role}, created {key.created_at} ({age} days)"
    if old:
        rec.finding(
            "keys-not-rotated",
            "low",
            f"{plural(len(old), 'active API key')} older than {MAX_KEY_AGE_DAYS} days, "
            "never revoked",
            old,
            "create replacements, then `shoplake keys revoke ID` the old ones",
        )


def _admins(keys: list[ApiKey], rec: Recorder) -> None:
    admins = [f"{k.key_id} ({k.name})" for k in keys if k.role == "admin"]
    if len(admins) > MAX_ADMIN_KEYS:
        rec.finding(
            "keys-many-admins",
            "low",
            f"{len(admins)} active admin keys: each reads every PII column in clear",
            {"admin keys": admins},
            "give people analyst keys (PII masked) and revoke admin keys that are not needed",
        )
