"""A tiny hand-made source and its lakehouse, for tests of the store stage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shoplake.platform import Platform


@pytest.fixture
def tiny(tmp_path: Path) -> Platform:
    """A source with one `items` table (3 rows), ingested once."""
    data_dir = tmp_path / "tiny"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "source.db") as conn:
        conn.execute(
            'CREATE TABLE items ("id" INTEGER PRIMARY KEY, "name" VARCHAR(20) NOT NULL, '
            '"price" NUMERIC(10, 2), "email" VARCHAR(50))'
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [
                (1, "kettle", 19.99, "a@x.org"),
                (2, "mug", 4.5, None),
                (3, "teapot", 31.0, "c@x.org"),
            ],
        )
    platform = Platform(data_dir=data_dir)
    assert platform.ingest().ok
    return platform


def change_source(platform: Platform, *statements: str) -> None:
    with sqlite3.connect(platform.settings.data_dir / "source.db") as conn:
        for statement in statements:
            conn.execute(statement)
