"""Shared fixtures: the public ClassicModels files and a real embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import EmbeddedPostgres, PostgresUnavailableError, start_postgres

CLASSICMODELS_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/classicmodels"


def _shared_file(name: str) -> Path:
    path = CLASSICMODELS_DIR / name
    if not path.is_file():
        pytest.skip(f"ClassicModels data not found: {path}")
    return path


@pytest.fixture(scope="session")
def classicmodels_dump() -> Path:
    """The public ClassicModels MySQL dump (../shared/data/classicmodels), read-only."""
    return _shared_file("mysqlsampledatabase.sql")


@pytest.fixture(scope="session")
def classicmodels_ratings_csv() -> Path:
    """The ClassicModels ratings CSV (customernumber, productcode, productrating, …)."""
    return _shared_file("ratings_ml_training.csv")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One real PostgreSQL 18 per test session (Unix socket only), stopped by PID at the end."""
    try:
        server = start_postgres()
    except PostgresUnavailableError as exc:
        pytest.skip(f"embedded PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: EmbeddedPostgres) -> str:
    """SQLAlchemy URL of a database shared by the session: postgresql+psycopg://…?host=…"""
    return postgres_server.create_database("shoplake")


@pytest.fixture
def fresh_postgres_db(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """SQLAlchemy URL of a new empty database for one test, dropped afterwards."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
