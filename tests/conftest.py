"""Shared fixtures: the public ClassicModels files and a real embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import EmbeddedPostgres, postgres_or_skip


@pytest.fixture(scope="session")
def classicmodels_dump() -> Path:
    """The public ClassicModels MySQL dump shipped with shoplake, read-only."""
    from shoplake.generate.classicmodels import SHIPPED_DUMP, shipped_file

    return shipped_file(SHIPPED_DUMP)


@pytest.fixture(scope="session")
def classicmodels_ratings_csv() -> Path:
    """The ClassicModels ratings CSV shipped with shoplake (customernumber, productcode, …)."""
    from shoplake.generate.classicmodels import SHIPPED_RATINGS, shipped_file

    return shipped_file(SHIPPED_RATINGS)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One real PostgreSQL 18 per test session (Unix socket only), stopped by PID at the end."""
    with postgres_or_skip() as server:
        yield server


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
