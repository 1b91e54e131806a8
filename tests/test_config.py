"""Settings precedence (file < environment < options) and secret masking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shoplake.config import effective_config, load_settings, mask_url


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in (
        "SHOPLAKE_DATA_DIR",
        "SHOPLAKE_SOURCE__URL",
        "SHOPLAKE_INGEST__BATCH_ROWS",
        "SHOPLAKE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_live_under_the_data_dir(in_tmp: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == in_tmp / ".shoplake"
    assert settings.source_url == f"sqlite:///{in_tmp / '.shoplake' / 'source.db'}"
    assert settings.catalog_uri == f"sqlite:///{in_tmp / '.shoplake' / 'catalog.db'}"
    assert settings.warehouse == (in_tmp / ".shoplake" / "warehouse").as_uri()


def test_file_then_environment_then_arguments(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "shoplake.toml").write_text(
        'data_dir = "from-file"\n[ingest]\nbatch_rows = 1000\n'
        '[ingest.tables.orders]\nstrategy = "cursor"\ncursor = "orderDate"\n'
    )
    settings = load_settings()
    assert (settings.data_dir.name, settings.ingest.batch_rows) == ("from-file", 1000)
    assert settings.ingest.tables["orders"].cursor == "orderDate"

    monkeypatch.setenv("SHOPLAKE_DATA_DIR", "from-env")
    monkeypatch.setenv("SHOPLAKE_INGEST__BATCH_ROWS", "2000")
    settings = load_settings()
    assert (settings.data_dir.name, settings.ingest.batch_rows) == ("from-env", 2000)

    settings = load_settings(data_dir="from-arg", **{"ingest.batch_rows": 3000, "source.url": None})
    assert (settings.data_dir.name, settings.ingest.batch_rows) == ("from-arg", 3000)


def test_secrets_are_masked(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPLAKE_SOURCE__URL", "postgresql://shop:s3cret@db.internal:5432/shop")
    shown = effective_config(load_settings())
    assert shown["source"]["url"] == "postgresql://shop:***@db.internal:5432/shop"
    assert "s3cret" not in repr(shown)
    assert mask_url("mysql+pymysql://u:p%40ss@h/db") == "mysql+pymysql://u:***@h/db"
    assert mask_url("redis://:v4lkey@127.0.0.1:6390/0") == "redis://:***@127.0.0.1:6390/0"
    assert mask_url("sqlite:////tmp/a:b/source.db") == "sqlite:////tmp/a:b/source.db"


def test_child_environment_rebuilds_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shoplake.config import Settings, child_environment

    monkeypatch.setenv("SHOPLAKE_STREAM__PREFIX", "inherited")
    settings = load_settings(
        data_dir=str(tmp_path),
        **{
            "stream.prefix": "clicks",
            "stream.batch_seconds": 0.25,
            "ingest.tables": {"orders": {"strategy": "snapshot"}},
        },
    )
    env = child_environment(settings)
    assert env["SHOPLAKE_DATA_DIR"] == str(tmp_path)
    for name in [k for k in os.environ if k.startswith("SHOPLAKE_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rebuilt = Settings()
    assert rebuilt == settings
    assert rebuilt.stream.prefix == "clicks"
    assert rebuilt.ingest.tables["orders"].strategy == "snapshot"
