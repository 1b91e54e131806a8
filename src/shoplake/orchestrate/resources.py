"""The one resource every asset uses: a shoplake platform built from settings.

Environments (``local``, ``aws``) differ only in the settings this resource holds, so no asset
branches on where it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from shoplake.errors import ShoplakeError

if TYPE_CHECKING:
    from shoplake.platform import Platform

#: Settings overrides (dotted names, as ``load_settings`` takes them) per environment; anything
#: not named here comes from shoplake.toml and ``SHOPLAKE_…`` variables as usual.
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "local": {},
    "aws": {"stream.backend": "kinesis"},
}


class ShoplakeResource(ConfigurableResource):
    """Settings of one shoplake installation; ``platform()`` is the facade the CLI also uses."""

    environment: str = "local"
    data_dir: str | None = None
    overrides: dict[str, str] = {}  # noqa: RUF012 - pydantic copies field defaults

    def platform(self) -> Platform:
        from shoplake.config import load_settings
        from shoplake.platform import Platform

        return Platform(load_settings(data_dir=self.data_dir, **self.overrides))


def environment_resource(environment: str, data_dir: str | None = None) -> ShoplakeResource:
    """The resource for a named environment."""
    if environment not in ENVIRONMENTS:
        known = ", ".join(ENVIRONMENTS)
        raise ShoplakeError(f"unknown environment {environment!r} (known: {known})")
    return ShoplakeResource(
        environment=environment, data_dir=data_dir, overrides=dict(ENVIRONMENTS[environment])
    )
