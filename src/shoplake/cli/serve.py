"""Serving commands: the API server and its API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, err, out, print_table, say

PANEL = "5 · serve"
keys_app = typer.Typer(
    help="API keys of the server: create, list, revoke. Keys are stored hashed.",
    no_args_is_help=True,
)
Output = Annotated[str, typer.Option(help="text or json.")]


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Bind address [default serve.host: 127.0.0.1].", show_default=False),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port [default serve.port: 8000].", show_default=False),
    ] = None,
) -> None:
    """Serve the API and dashboard (FastAPI on uvicorn, one worker) until interrupted.

    OpenAPI documentation at /docs. Requests need an API key: `shoplake keys create --role R`.
    """
    import uvicorn

    from shoplake.serve.app import create_app
    from shoplake.services import PORT_REMEDY, is_loopback, listen_on

    settings = platform(ctx, **{"serve.host": host, "serve.port": port}).settings
    bind, at = settings.serve.host, settings.serve.port
    sock = listen_on(bind, at, PORT_REMEDY)  # a taken port is one line, before any banner
    if not is_loopback(bind):
        warning = f"warning: binding {bind} exposes the API beyond this machine (keys in clear)"
        err.print(warning, soft_wrap=True)
    say(f"shoplake API on http://{bind}:{at} (docs at /docs); Ctrl-C stops it")
    config = uvicorn.Config(create_app(settings), host=bind, port=at, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


@keys_app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="admin, analyst or app.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    output: Output = "text",
) -> None:
    """Create a key and print it once (only its hash is kept)."""
    from shoplake.serve.keys import create_key

    key_id, plaintext = create_key(platform(ctx).settings, role, name)
    if output == "json":
        emit_json({"id": key_id, "role": role, "key": plaintext})
    else:
        out.print(plaintext)
    say(f"key {key_id} ({role}): copy it now — it will not be shown again")


@keys_app.command("list")
def list_(ctx: typer.Context, output: Output = "text") -> None:
    """Every key: id, name, role, creation time, revoked (never the key itself)."""
    from shoplake.serve.keys import list_keys

    keys = [k.public() for k in list_keys(platform(ctx).settings)]
    if output == "json":
        emit_json(keys)
        return
    print_table(keys, ["key_id", "name", "role", "created_at", "revoked"])


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke a key: the running server refuses it from its next request."""
    from shoplake.serve.keys import revoke_key

    key = revoke_key(platform(ctx).settings, key_id)
    out.print(f"revoked {key.key_id} ({key.role}, {key.name})")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(serve)
    app.add_typer(keys_app, name="keys", rich_help_panel=PANEL)
