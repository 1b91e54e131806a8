"""The data dir's Dagster home: its ``dagster.yaml`` turns telemetry and first-visit prompts off.

Without a ``dagster.yaml`` Dagster warns about the missing file, prints a telemetry banner the
first time it runs on a machine (and writes an id under ``~/.dagster``) and its web UI opens
with a "join the community" dialog. Every command that opens the instance or starts the UI
prepares the home first; settings a user wrote in the file are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shoplake.errors import ShoplakeError

CONFIG_FILE = "dagster.yaml"
#: Dagster's switches for its usage statistics and its newsletter prompt in the UI.
QUIET: dict[str, dict[str, bool]] = {"telemetry": {"enabled": False}, "nux": {"enabled": False}}


def prepare_home(home: Path) -> Path:
    """Create ``home`` and its ``dagster.yaml`` with telemetry and the UI's prompt off.

    A switch the file already sets is left as the user set it; the file is rewritten only when
    something is added. Returns the file's path.
    """
    import yaml

    home.mkdir(parents=True, exist_ok=True)
    path = home / CONFIG_FILE
    current = _read(path)
    wanted = {**current}
    for section, switches in QUIET.items():
        present = current.get(section)
        merged = {**switches, **(present if isinstance(present, dict) else {})}
        wanted[section] = merged
    if wanted != current:
        header = "# written by shoplake: no telemetry, no first-visit prompt in the UI\n"
        path.write_text(header + yaml.safe_dump(wanted, sort_keys=False))
    return path


def _read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ShoplakeError(f"cannot read {path}: {exc.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ShoplakeError(f"{path} is not valid YAML{where}: fix or delete it") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ShoplakeError(f"{path} must be a mapping of Dagster settings: fix or delete it")
    return loaded
