"""What ``shoplake demo`` suggests trying next: shell lines that work as printed, on its data.

Every line runs from the directory the demo ran in: the data dir and, when the configured one
is taken, the valkey port come first as ``export`` lines; the customer and product named are
ones the demo's data holds; the Spark line appears only where the spark extra is installed.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoplake.platform import Platform

#: Where ``--classicmodels`` suggests the other story (and the other story suggests it).
REAL_DATA_DIR = ".shoplake-real"
GENERATED_DATA_DIR = ".shoplake-generated"
COMMENT_AT = 40


@dataclass(frozen=True)
class Picks:
    """Data the demo made that the lines name."""

    customer: int
    product: str


def line(command: str, comment: str = "") -> str:
    """A command with its comment aligned (a shell comment: the line runs as printed)."""
    if not comment:
        return command
    return f"{command.ljust(COMMENT_AT - 1)} # {comment}"


def activate_line() -> str | None:
    """``source …/bin/activate`` of the virtual environment running shoplake, if any."""
    if sys.prefix == sys.base_prefix:
        return None
    script = Path(sys.prefix) / "bin" / "activate"
    if not script.exists():
        return None
    relative = os.path.relpath(script)
    shown = relative if not relative.startswith("..") else str(script)
    return line(f"source {shown}", "puts `shoplake` on your PATH")


def environment_lines(plat: Platform, valkey_port: int) -> list[str]:
    """``export`` lines that point the commands below at this demo's data dir and valkey."""
    from shoplake.errors import ShoplakeError
    from shoplake.services import VALKEY_HOST, check_port

    lines = []
    if plat.settings.data_dir != Path(".shoplake").absolute():
        data_dir = shlex.quote(str(plat.settings.data_dir))
        lines.append(line(f"export SHOPLAKE_DATA_DIR={data_dir}", "this demo's data"))
    configured = plat.settings.services.valkey_port
    try:
        check_port(VALKEY_HOST, configured, "")
    except ShoplakeError:
        lines.append(
            line(
                f"export SHOPLAKE_SERVICES__VALKEY_PORT={valkey_port}",
                f"port {configured} is taken; the demo's valkey used {valkey_port}",
            )
        )
    return lines


def try_next(plat: Platform, picks: Picks, *, classicmodels: bool, valkey_port: int) -> list[str]:
    """The "Try next" lines, in an order that works when run one after the other."""
    import importlib.util

    other = (
        line(f"shoplake --data-dir {GENERATED_DATA_DIR} demo", "the story on a generated shop")
        if classicmodels
        else line(
            f"shoplake --data-dir {REAL_DATA_DIR} demo --classicmodels",
            "the story on the real ClassicModels dump",
        )
    )
    lines = [
        activate_line(),
        *environment_lines(plat, valkey_port),
        line("shoplake tables", "every table, files, snapshots, watermarks"),
        'shoplake query "SELECT status, count(*) FROM silver.orders GROUP BY 1"',
        line("shoplake lineage gold.fact_orders", "upstream and downstream tables"),
        line("shoplake check", "every data contract, on published tables"),
        "shoplake simulate --orders 1000 && shoplake ingest && shoplake transform",
        line("shoplake maintain", "compact files, expire old snapshots"),
        line("shoplake run", "the asset graph through Dagster"),
        line("shoplake ui", "Dagster's web UI on that run history"),
        f"shoplake models list && shoplake recommend {picks.customer} && "
        f"shoplake similar {picks.product}",
        line("shoplake stream produce --rate 500 --duration 10", "a live burst (starts valkey)"),
        "shoplake stream process --until-idle && shoplake stream status",
        line("shoplake down", "stops that valkey"),
        other,
        line("shoplake doctor", "every connection checked layer by layer"),
        line("shoplake assess", "security, reliability, performance findings"),
    ]
    if importlib.util.find_spec("pyspark") is not None:
        lines.append(line("shoplake transform --engine spark", "the same models on Spark"))
    return [text for text in lines if text is not None]


def dashboard(plat: Platform) -> list[str]:
    """The lines that open the API and the dashboard."""
    serve = plat.settings.serve
    address = f"http://{serve.host}:{serve.port}"
    return [
        line("shoplake keys create --role analyst", "prints an API key once; keep it"),
        line("shoplake serve", f"then open {address}/ (API docs: {address}/docs)"),
    ]
