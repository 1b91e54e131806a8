"""Security: plain-text secrets in the config file and in ``SHOPLAKE_…`` environment.

A secret is a value that looks like a shoplake API key (anywhere), a URL carrying a password,
or a non-empty value under a secret-sounding key (``password``, ``secret``, ``token``,
``api_key``…) other than a documented local default. Only masked values are reported.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.config import CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, SupplierSettings
from shoplake.ops.assess.units import mask_secret
from shoplake.redact import SECRET_NAME, redact
from shoplake.serve.keys import KEY_PREFIX

if TYPE_CHECKING:
    from shoplake.ops.assess.model import Recorder, Severity

ENV_PREFIX = "SHOPLAKE_"
API_KEY = re.compile(rf"{re.escape(KEY_PREFIX)}[A-Za-z0-9_-]{{20,}}")
#: Values that are public defaults of the local stack, not secrets.
LOCAL_DEFAULTS = {
    "supplier.client_secret": SupplierSettings().client_secret.get_secret_value(),
}
#: Environment variables that name things rather than hold settings.
ENV_IGNORED = {CONFIG_FILE_ENV}


def config_file() -> Path:
    """The settings file shoplake reads (``SHOPLAKE_CONFIG`` or ./shoplake.toml)."""
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE)).absolute()


def classify(path: str, value: str) -> str | None:
    """What kind of secret ``value`` at ``path`` is, or None when it is not one."""
    if API_KEY.search(value):
        return "shoplake API key"
    if "://" in value and redact(value) != value:
        return "password in a URL"
    leaf = path.rsplit(".", 1)[-1]
    if SECRET_NAME.search(leaf) and value and LOCAL_DEFAULTS.get(path) != value:
        return "secret"
    return None


def shown(kind: str, value: str) -> str:
    """The masked form of a secret for the report."""
    return redact(value) if kind == "password in a URL" else mask_secret(value)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a nested settings document, with its dotted key path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def env_leaves(environ: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """``(variable, key path, value)`` of every ``SHOPLAKE_…`` setting; JSON-valued groups
    (as child processes receive them) are opened."""
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in ENV_IGNORED:
            continue
        path = name.removeprefix(ENV_PREFIX).lower().replace("__", ".")
        document: Any = raw
        if raw.startswith("{"):
            try:
                document = json.loads(raw)
            except ValueError:
                document = raw
        for key, value in leaves(document, path):
            yield name, key, value


def env_name(path: str) -> str:
    """The environment variable of a dotted settings path."""
    return ENV_PREFIX + path.upper().replace(".", "__")


def check_secrets(rec: Recorder, environ: dict[str, str] | None = None) -> None:
    """Plain-text secrets in the settings file (high) and the environment (low)."""
    _scan_file(config_file(), rec)
    _scan_environment(dict(os.environ) if environ is None else environ, rec)


def _scan_file(path: Path, rec: Recorder) -> None:
    if not path.is_file():
        rec.passed("secrets in config file", f"no config file at {path}")
        return
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        rec.finding(
            "config-unreadable",
            "low",
            f"the config file {path} could not be read for secrets",
            {"file": str(path), "error": str(exc)},
            "fix the TOML syntax (shoplake refuses to start with it too)",
        )
        return
    mode = path.stat().st_mode & 0o777
    found = 0
    for key, value in leaves(document):
        kind = classify(key, value)
        if kind is None:
            continue
        found += 1
        evidence = {"file": str(path), "key": key, "value": shown(kind, value), "mode": f"{mode:o}"}
        _report(
            rec,
            id="secret-in-config-file",
            severity="high",
            kind=kind,
            where=f"{path.name} at {key}",
            evidence=evidence,
            key=key,
        )
    if not found:
        rec.passed("secrets in config file", f"no plain-text secret in {path}")


def _scan_environment(environ: dict[str, str], rec: Recorder) -> None:
    found = 0
    for variable, key, value in env_leaves(environ):
        kind = classify(key, value)
        if kind is None:
            continue
        found += 1
        evidence = {"variable": variable, "key": key, "value": shown(kind, value)}
        _report(
            rec,
            id="secret-in-environment",
            severity="low",
            kind=kind,
            where=variable,
            evidence=evidence,
            key=key,
        )
    if not found:
        rec.passed("secrets in environment", "no plain-text secret in SHOPLAKE_* variables")


def _report(
    rec: Recorder,
    *,
    id: str,
    severity: Severity,
    kind: str,
    where: str,
    evidence: dict[str, Any],
    key: str,
) -> None:
    fix = f"keep it out of plain text: inject {env_name(key)} from a secret store at start-up"
    if kind == "shoplake API key":
        fix += ", and revoke the exposed key (`shoplake keys revoke ID`)"
    rec.finding(id, severity, f"plain-text {kind} in {where}", evidence, fix)
