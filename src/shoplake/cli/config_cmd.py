"""``shoplake config``: show the effective configuration."""

from __future__ import annotations

from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def show(
    ctx: typer.Context,
    output: Annotated[str, typer.Option(help="toml or json.")] = "toml",
) -> None:
    """Print the effective configuration (file < environment < options), secrets masked."""
    from shoplake.config import effective_config

    config = effective_config(platform(ctx).settings)
    if output == "json":
        emit_json(config)
        return
    print(_to_toml(config))


def _to_toml(config: dict[str, object], prefix: str = "") -> str:
    import json

    scalars = {k: v for k, v in config.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in config.items() if isinstance(v, dict)}
    lines = [f"[{prefix}]"] if prefix and scalars else []
    lines += [f"{k} = {json.dumps(v)}" for k, v in scalars.items() if v is not None]
    for key, value in tables.items():
        name = f"{prefix}.{key}" if prefix else key
        body = _to_toml(value, name)
        if body:
            lines += ["", body]
    return "\n".join(lines).strip()


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config", rich_help_panel="settings")
