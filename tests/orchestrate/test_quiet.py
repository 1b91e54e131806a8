"""Dagster stays quiet: no telemetry banner or id, no warning about a missing dagster.yaml, no
first-visit prompt — the data dir's Dagster home says so in its dagster.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shoplake.errors import ShoplakeError
from shoplake.orchestrate.instance import prepare_home

QUIET = {"telemetry": {"enabled": False}, "nux": {"enabled": False}}


def test_run_prints_no_telemetry_and_no_dagster_yaml_warning(
    generated: Path, tmp_path: Path
) -> None:
    data_dir, home = tmp_path / "shop", tmp_path / "home"
    data_dir.mkdir()
    home.mkdir()  # a user who never ran Dagster: it would print its banner to them
    shutil.copy(generated, data_dir / "source.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPLAKE_", "DAGSTER_"))}
    done = subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), "run", "-s", "ingest"],
        env={**env, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    assert "telemetry" not in shown.lower() and "dagster.yaml" not in shown
    assert "Welcome to Dagster" not in shown
    assert yaml.safe_load((data_dir / "dagster" / "dagster.yaml").read_text()) == QUIET
    assert list(home.iterdir()) == []  # no ~/.dagster telemetry id or logs


def test_a_users_dagster_yaml_keeps_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "dagster.yaml"
    path.write_text("run_queue:\n  max_concurrent_runs: 2\ntelemetry:\n  enabled: true\n")
    assert prepare_home(tmp_path) == path
    assert yaml.safe_load(path.read_text()) == {
        "run_queue": {"max_concurrent_runs": 2},
        "telemetry": {"enabled": True},  # the user's explicit choice stands
        "nux": {"enabled": False},
    }
    before = path.stat().st_mtime_ns
    prepare_home(tmp_path)
    assert path.stat().st_mtime_ns == before  # nothing to add: not rewritten


def test_a_new_home_is_created_quiet(tmp_path: Path) -> None:
    path = prepare_home(tmp_path / "a" / "dagster")
    assert yaml.safe_load(path.read_text()) == QUIET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("telemetry: [unclosed\n", "is not valid YAML (line 2): fix or delete it"),
        ("- a list\n", "must be a mapping of Dagster settings: fix or delete it"),
    ],
)
def test_an_unreadable_dagster_yaml_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dagster.yaml"
    path.write_text(text)
    with pytest.raises(ShoplakeError) as err:
        prepare_home(tmp_path)
    assert str(err.value) == f"{path} {message}"
    assert path.read_text() == text  # left as it was
