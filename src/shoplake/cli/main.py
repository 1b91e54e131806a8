"""The ``shoplake`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shoplake.errors import ShoplakeError

if TYPE_CHECKING:
    from shoplake.platform import Platform

app = typer.Typer(
    name="shoplake",
    help=(
        "shoplake — a local-first data platform for product recommendations.\n\n"
        "The lifecycle: generate → ingest → store → transform → serve. Generate (or load) a "
        "source database; ingest it, a clickstream and a REST source into the bronze layer of "
        "an Iceberg lakehouse; store, maintain and query it; transform it into silver, the gold "
        "star schema and a trained recommender; serve recommendations, analytics and a "
        "dashboard over HTTP. Start with `shoplake demo`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"shoplake {version('shoplake')}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Directory for every file shoplake writes [env SHOPLAKE_DATA_DIR; "
            "default ./.shoplake].",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file [env SHOPLAKE_CONFIG; default ./shoplake.toml].",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print shoplake's version and exit.",
        ),
    ] = False,
) -> None:
    if config is not None:
        if not config.exists():
            raise ShoplakeError(f"config file {config} does not exist")
        from shoplake.config import CONFIG_FILE_ENV  # not at import: pydantic is slow to load

        os.environ[CONFIG_FILE_ENV] = str(config)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(message)s",
    )
    ctx.obj = {"data_dir": data_dir}


def platform(ctx: typer.Context, **overrides: Any) -> Platform:
    """The platform for this invocation, from global options and command overrides."""
    from shoplake.platform import Platform

    root = ctx.find_root()
    data_dir = (root.obj or {}).get("data_dir")
    return Platform(data_dir=data_dir, **overrides)


def _register() -> None:
    from shoplake.cli import (
        assess,
        bench,
        config_cmd,
        demo,
        lake,
        ml,
        ops,
        orchestrate,
        pipeline,
        serve,
        sources,
        stream,
        transform,
    )  # fmt: skip

    for module in (
        sources,
        pipeline,
        stream,
        lake,
        transform,
        ml,
        orchestrate,
        serve,
        config_cmd,
        demo,
        bench,
        ops,
        assess,
    ):
        module.register(app)


_register()


def _click_exceptions() -> tuple[type[Any], ...]:
    """Click's usage-error class, and Typer's vendored copy of it (Typer ≥ 0.29 ships its own
    click, whose exceptions are not the installed click's)."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _validation_error() -> Any:
    """pydantic's ValidationError once settings were read (pydantic is loaded), else a class
    nothing raises: ``--help`` and typos never pay for importing pydantic."""
    pydantic = sys.modules.get("pydantic")
    return pydantic.ValidationError if pydantic is not None else _NeverRaisedError


class _NeverRaisedError(Exception):
    """Stands in for pydantic's ValidationError before pydantic is loaded."""


def main() -> None:
    """Console entry point: errors become one line on stderr and exit code 1."""
    try:
        code = app(standalone_mode=False)
    except ShoplakeError as exc:
        from shoplake.redact import redact  # the last guard: no secret reaches the terminal

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except _validation_error() as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        print(f"error: invalid configuration: {problems}", file=sys.stderr)
        sys.exit(1)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        print("interrupted: nothing half-written is committed", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, _click_exceptions()):
            from shoplake.cli.output import point_at_output_option

            point_at_output_option(exc, sys.argv[1:])
            exc.show()  # e.g. "Error: Invalid value for '--engine'", with the usage line
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
