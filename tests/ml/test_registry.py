"""The model registry: ordered versions, atomic saves (even when killed), the promoted pointer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shoplake.ml.errors import ModelError
from shoplake.ml.registry import DOCUMENTS, Registry, write_json


def complete(directory: Path) -> None:
    """Write the documents every version has."""
    for file in DOCUMENTS.values():
        write_json(directory / file, {"file": file} if file != "metrics.json" else [])


def test_versions_are_numbered_in_order_and_listed(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    assert registry.versions() == [] and registry.promoted() is None
    assert [registry.save(complete) for _ in range(3)] == ["v0001", "v0002", "v0003"]
    registry.promote("v0002")
    assert registry.promoted() == "v0002"
    assert [(i.version, i.promoted) for i in registry.list()] == [
        ("v0001", False),
        ("v0002", True),
        ("v0003", False),
    ]
    info = registry.info("v0003")
    assert info.summary == {"file": "model.json"} and info.path == tmp_path / "models/v0003"
    assert (tmp_path / "models/promoted").read_text() == "v0002\n"


def test_a_failed_save_registers_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")

    def broken(directory: Path) -> None:
        (directory / "user_factors.npy").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        registry.save(broken)
    assert registry.versions() == []
    assert list((tmp_path / "models").iterdir()) == []
    assert registry.save(complete) == "v0001"


def test_a_killed_training_leaves_no_half_version(tmp_path: Path) -> None:
    root = tmp_path / "models"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from shoplake.ml.registry import Registry

        def write(directory: Path) -> None:
            (directory / "user_factors.npy").write_bytes(b"half")
            os._exit(9)  # killed mid-write: no cleanup runs

        Registry(Path({str(root)!r})).save(write)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == 9
    leftovers = [p.name for p in root.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-")
    registry = Registry(root)
    assert registry.versions() == []
    assert registry.save(complete) == "v0001"


def test_unknown_versions_and_no_promotion_are_one_line_errors(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    with pytest.raises(ModelError, match=r"^no model trained yet: run `shoplake train`$"):
        registry.require_promoted()
    with pytest.raises(ModelError, match=r"^no model version 'v0009' \(versions: none"):
        registry.promote("v0009")
    registry.save(complete)
    with pytest.raises(ModelError, match=r"^no model version 'v0009' \(versions: v0001\)$"):
        registry.info("v0009")
    assert registry.promoted() is None
