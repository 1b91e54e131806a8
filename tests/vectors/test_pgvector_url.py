"""Which database the pgvector backend uses, and one-line errors when it cannot use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.config import Settings, load_settings
from shoplake.errors import ConfigError
from shoplake.vectors import VectorError, open_vector_index
from tests.vectors.conftest import pgvector_settings


def pg_backend(tmp_path: Path, **overrides: str) -> Settings:
    return load_settings(data_dir=tmp_path, **{"vectors.backend": "pgvector", **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, r"vectors.backend 'pgvector' needs a PostgreSQL URL: set vectors.url \(SHOPLAKE_"),
        ({"source.url": "sqlite:///x.db"}, "source.url is not PostgreSQL"),
        (
            {"vectors.url": "sqlite:///x.db", "source.url": "postgresql://u@/db"},
            "vectors.url must be a PostgreSQL URL for the pgvector backend, got 'sqlite:///x.db'",
        ),
        ({"vectors.url": "not a url"}, "invalid vectors.url 'not a url'"),
    ],
)
def test_missing_or_wrong_url_names_the_setting(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    settings = pg_backend(tmp_path, **overrides)
    with pytest.raises(ConfigError, match=message) as excinfo:
        open_vector_index(settings, "items")
    assert "\n" not in str(excinfo.value)


def test_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="the pgvector backend needs shoplake[postgres]")
    url = f"postgresql+psycopg://shop:s3cret@/vectors?host={tmp_path / 'no-such-socket-dir'}"
    with pytest.raises(VectorError) as excinfo:
        open_vector_index(pg_backend(tmp_path, **{"vectors.url": url}), "items")
    message = str(excinfo.value)
    assert message.startswith(
        "cannot connect to the pgvector database 'postgresql+psycopg://shop:***@/vectors?host="
    )
    assert "(vectors.url): " in message and "No such file or directory" in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.integration
def test_missing_database_is_named(tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url.replace("@/shoplake_", "@/missing_")
    assert url != postgres_url
    with pytest.raises(VectorError, match=r"\(vectors.url\): .*database \"missing_\w+\" does not"):
        open_vector_index(pgvector_settings(tmp_path, url), "items")


@pytest.mark.integration
def test_postgres_source_url_is_the_default(tmp_path: Path, fresh_postgres_db: str) -> None:
    settings = pg_backend(tmp_path, **{"source.url": fresh_postgres_db})
    with open_vector_index(settings, "items") as index:
        database = fresh_postgres_db.split("@/")[1].split("?", maxsplit=1)[0]
        assert f"@/{database}?" in index.location
        assert index.location.endswith(" table shoplake_vectors_items")
    missing = fresh_postgres_db.replace(f"@/{database}", "@/nope")
    settings = pg_backend(tmp_path, **{"source.url": missing})
    with pytest.raises(VectorError, match=r"\(source.url\): .*database \"nope\" does not exist"):
        open_vector_index(settings, "items")
