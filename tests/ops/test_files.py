"""Local endpoints: the SQLite catalog's reverted write probe, warehouse and vector dirs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shoplake.config import load_settings
from shoplake.lake.catalog import open_catalog
from shoplake.ops.doctor import diagnose
from shoplake.ops.endpoints import build_probes


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM iceberg_namespace_properties").fetchall()


def test_catalog_write_probe_is_reverted(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    open_catalog(settings)
    before = _rows(tmp_path / "catalog.db")
    (report,) = diagnose(build_probes(settings, ["catalog"]))
    assert report.ok, report.to_dict()
    assert report.layers[4].detail == "0 tables registered; write probe reverted"
    assert report.layers[5].detail.startswith("median ")
    assert _rows(tmp_path / "catalog.db") == before


def test_fresh_data_dir_is_creatable(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "new")
    reports = diagnose(build_probes(settings, ["catalog", "warehouse", "vectors"]))
    assert all(r.ok for r in reports), [r.to_dict() for r in reports]
    assert reports[0].layers[4].detail.startswith("catalog.db not created yet")
    assert reports[1].layers[4].detail.endswith("is writable (created on first use)")
    assert not (tmp_path / "new").exists()  # the doctor created nothing


def test_warehouse_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "warehouse"
    target.write_text("not a directory")
    settings = load_settings(data_dir=tmp_path)
    (report,) = diagnose(build_probes(settings, ["warehouse"]))
    assert report.failed_layer == "permission"
    assert (report.problem, report.fix) == (
        f"{target} is not a directory",
        "remove it or change lake.warehouse",
    )


def test_warehouse_written_and_cleaned(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    (report,) = diagnose(build_probes(load_settings(data_dir=tmp_path), ["warehouse"]))
    assert report.ok
    assert report.layers[4].detail == f"{tmp_path / 'warehouse'}: wrote and deleted a probe file"
    assert list((tmp_path / "warehouse").iterdir()) == []
