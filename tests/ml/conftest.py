"""Lakehouses for recommender tests, each built once per module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shoplake.platform import Platform


def build_generated(data_dir: Path, *, scale: float, seed: int = 42) -> Platform:
    """Generate a source, ingest it and build silver and gold."""
    shop = Platform(data_dir=data_dir)
    shop.generate(scale=scale, seed=seed)
    assert shop.ingest().ok
    assert shop.transform().ok
    return shop


def rows(shop: Platform, sql: str) -> list[dict[str, Any]]:
    """The rows of a lakehouse query, as dicts."""
    return shop.query(sql).table.to_pylist()


def scalar(shop: Platform, sql: str) -> Any:
    return next(iter(rows(shop, sql)[0].values()))
