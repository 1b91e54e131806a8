"""Hide secrets in text that may be shown, logged or stored: URLs and driver error messages.

One place decides what a secret looks like, for every URL form and every message a driver
builds from one:

- the password of a URL's userinfo, whatever it holds (``/``, ``:``, ``@``, ``%2F``…):
  ``postgresql://alice:***@db/shop``; everything between ``user:`` and the last ``@`` of the
  URL is hidden, so an unescaped ``@`` or ``/`` in the password cannot end the match early;
- the value of any ``name=value`` pair whose name sounds secret (``password``, ``sslpassword``,
  ``token``, ``api_key``, ``access_key``, ``X-Amz-Signature``…): URL query parameters, libpq
  connection strings and messages quoting them; in JSON or a Python dict (``"token": "…"``)
  a ``:`` separates them too;
- ``Bearer`` tokens and AWS access key ids;
- any literal secret the caller knows (a configured password), also percent-decoded, and
  each piece of it a URL parser could cut off at an unescaped delimiter.

A leaf module: no shoplake imports, so every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"

#: Words that make a setting or parameter name secret.
SECRET_WORDS = r"pass|pwd|secret|token|api_?key|access_?key|private_?key|credential|signature|auth"
SECRET_NAME = re.compile(SECRET_WORDS, re.I)

# scheme://user:password@ — the password runs to the last "@" before whitespace.
_USERINFO = re.compile(r"([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:)\S*(@)", re.I)
# name=value (query parameters, conninfo) — the value runs to "&", whitespace or a quote.
_PAIR = re.compile(
    rf"(?P<name>[\w.\-]*(?:{SECRET_WORDS})[\w.\-]*=)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&'\"]+)",
    re.I,
)
# "name": "value" / 'name': 'value' (JSON, Python reprs).
_QUOTED_PAIR = re.compile(
    rf"(?P<name>(?P<q>['\"])[\w.\-]*(?:{SECRET_WORDS})[\w.\-]*(?P=q)\s*:\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s,}]+)",
    re.I,
)
_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=\-]+", re.I)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_BACKGROUND = re.compile(r"\(Background on this error at:[^)]*\)")


def _keep_quotes(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') and len(value) > 1 else ""
    return f"{match.group('name')}{quote}{MASK}{quote}"


def _forms(secret: str) -> set[str]:
    """A secret as written, decoded and encoded, and the pieces (4 characters or more) a URL
    parser cuts it into at an unescaped ``:``, ``@``, ``/``, ``?`` or ``#``: its errors may
    quote one piece (``invalid literal for int(): 'rest-of-password@host'``)."""
    plain = unquote(secret)
    pieces = {p for p in re.split(r"[:@/?#]", plain) if len(p) >= 4 and p != plain}
    return {secret, plain, quote(plain, safe=""), *pieces}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret it carries replaced by ``***`` (see the module doc)."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            for form in sorted(_forms(secret), key=len, reverse=True):
                text = text.replace(form, MASK)
    text = _USERINFO.sub(rf"\g<1>{MASK}\g<2>", text)
    text = _PAIR.sub(_keep_quotes, text)
    text = _QUOTED_PAIR.sub(_keep_quotes, text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    return _AWS_KEY_ID.sub(MASK, text)


def url_password(url: str) -> str | None:
    """The password in a URL's userinfo (as written, maybe percent-escaped), or None."""
    match = re.match(r"[a-z][a-z0-9+.\-]*://[^\s:/@]*:(\S*)@", url, re.I)
    return match.group(1) if match and match.group(1) else None


def error_message(
    exc: BaseException, secrets: Iterable[str | None] = (), *, url: str | None = None
) -> str:
    """One redacted line saying why a driver call failed.

    SQLAlchemy wraps the driver's exception (``exc.orig``) and appends the statement, its
    parameters (which can hold row values) and a link; only the driver's own first line is
    kept. ``url``: the URL the driver was given, whose password is hidden in any form the
    message quotes it. Falls back to the exception's type name when it has no message.
    """
    cause = getattr(exc, "orig", None) or exc
    text = _BACKGROUND.sub("", str(cause))
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    known = [*secrets, url_password(url) if url else None]
    return redact(lines[0], known) if lines else type(cause).__name__
