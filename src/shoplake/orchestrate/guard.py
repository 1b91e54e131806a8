"""What an asset body raises, made safe to store before Dagster sees it.

Dagster keeps every step failure in its run storage and compute logs: the exception's message,
its cause and context chain, and the stack. shoplake's own errors are redacted where they are
built, but a library's exception (a driver quoting a URL with its password) is not. Every
asset body is wrapped by :func:`shielded`, so what leaves it carries only redacted text and no
chained exception: a ``Failure`` keeps its description (redacted), metadata and retry choice;
anything else becomes a :class:`StepError` with one redacted line, which the retry policy
still retries as it would have the original.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from shoplake.errors import ShoplakeError
from shoplake.redact import error_message, redact, url_password

if TYPE_CHECKING:
    from shoplake.config import Settings

Body = TypeVar("Body", bound=Callable[..., Any])


class StepError(ShoplakeError):
    """An asset body's exception, reduced to one redacted line."""


def shielded(body: Body) -> Body:
    """``body`` (a plain or a generator asset function) raising only redacted errors."""
    if inspect.isgeneratorfunction(body):

        @functools.wraps(body)
        def stepping(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from body(*args, **kwargs)
                return
            except Exception as exc:  # every error a body can raise goes to Dagster's storage
                safe = _safe(exc, kwargs)
            raise safe from None  # outside the handler: no context chain either

        return cast("Body", stepping)

    @functools.wraps(body)
    def calling(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except Exception as exc:  # every error a body can raise goes to Dagster's storage
            safe = _safe(exc, kwargs)
        raise safe from None

    return cast("Body", calling)


def _safe(exc: Exception, kwargs: dict[str, Any]) -> Exception:
    """The exception to raise in place of ``exc``: redacted, with nothing chained."""
    from dagster import Failure

    secrets = list(_secrets(kwargs.get("shoplake")))
    if isinstance(exc, Failure):
        return Failure(
            redact(exc.description or "", secrets) or None,
            metadata=exc.metadata,
            allow_retries=exc.allow_retries,
        )
    return StepError(error_message(exc, secrets))


def _secrets(resource: Any) -> Iterable[str]:
    """Every secret the settings behind an asset's shoplake resource hold: secret values and
    the passwords of its URLs (nothing when the settings cannot be loaded)."""
    try:
        settings: Settings = resource.platform().settings
    except Exception:  # no settings, no known secrets: the patterns still apply
        return []
    return _walk(settings.model_dump()) + _passwords(
        settings.source_url, settings.catalog_uri, settings.warehouse
    )


def _walk(value: Any) -> list[str]:
    """Secret values (``SecretStr``) and URL passwords anywhere in a settings dump."""
    from pydantic import SecretStr

    if isinstance(value, dict):
        return [s for v in value.values() for s in _walk(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _walk(v)]
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    return _passwords(value) if isinstance(value, str) else []


def _passwords(*urls: str | None) -> list[str]:
    return [p for url in urls if url and (p := url_password(url))]
