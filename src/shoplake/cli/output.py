"""Shared terminal output: messages and progress on stderr, data on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from shoplake.ingest.runner import ProgressHook

# Messages piped or logged are never wrapped: each stays one line, whatever its length.
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())
# Piped output gets a fixed, roomy width instead of rich's 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)


def say(message: str) -> None:
    """A human-facing line (stderr, so stdout stays clean for scripts)."""
    err.print(message)


def emit_json(payload: Any) -> None:
    """Machine-readable output on stdout."""
    print(json.dumps(payload, indent=2, default=str))


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``1,200 rows``; ``many`` when adding an s is wrong."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


#: Options people reach for to pick an output format, which shoplake calls --output.
FORMAT_OPTIONS = ("--format", "--fmt", "--output-format")


def point_at_output_option(exc: Exception, argv: Sequence[str]) -> None:
    """Rewrite a usage error for ``--format`` (and its kin) on a command that has
    ``--output`` so that it says which option to use, with the value given."""
    name = getattr(exc, "option_name", None)
    command = getattr(getattr(exc, "ctx", None), "command", None)
    if name not in FORMAT_OPTIONS or command is None:
        return
    if not any("--output" in getattr(p, "opts", ()) for p in command.params):
        return
    value = _value_of(name, argv)
    exc.message = (  # type: ignore[attr-defined]
        f"No such option: {name}: use --output {value}"
        if value
        else f"No such option: {name}: this command's format is chosen with --output"
    )
    exc.possibilities = None  # type: ignore[attr-defined]


def _value_of(option: str, argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith(option + "="):
            return arg.partition("=")[2] or None
        if arg == option and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return None


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None
) -> None:
    """Rows as an aligned table on stdout; numbers right-aligned with thousands separators."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    numeric = {c for c in columns if rows and all(isinstance(r.get(c), int | float) for r in rows)}
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


@contextmanager
def ingest_progress(enabled: bool = True) -> Iterator[ProgressHook | None]:
    """A rich progress bar per table while ingesting (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:

        def start(table: str, expected: int) -> Any:
            task = bar.add_task(table, total=expected or None)
            return lambda rows: bar.advance(task, rows)

        yield start
