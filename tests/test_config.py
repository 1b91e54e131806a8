"""Settings precedence (file < environment < options) and secret masking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from shoplake.config import effective_config, load_settings


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


#: Secrets in URL forms the first masking pattern missed, one per setting that holds a URL.
LEAKY_URLS = {
    "SHOPLAKE_SOURCE__URL": ("postgresql://alice:pa/ss9Secret@db.internal/shop", "pa/ss9Secret"),
    "SHOPLAKE_VECTORS__URL": ("postgresql://alice@db/vec?password=qSecret1", "qSecret1"),
    "SHOPLAKE_STREAM__URL": ("rediss://:v4l%2Fkey@cache:6380/0", "v4l%2Fkey"),
    "SHOPLAKE_LAKE__CATALOG_URI": (
        "postgresql+psycopg://cat@db/cat?sslmode=require&sslpassword=kSecret2",
        "kSecret2",
    ),
    "SHOPLAKE_SUPPLIER__URL": ("https://api.example.com/?api_key=aSecret4", "aSecret4"),
    "SHOPLAKE_SUPPLIER__TOKEN": ("tSecret3-bearer", "tSecret3"),
    "SHOPLAKE_SUPPLIER__CLIENT_SECRET": ("cSecret5", "cSecret5"),
    "SHOPLAKE_DOCTOR__API_KEY": ("slk_dSecret6dSecret6dSecret6", "dSecret6"),
}


def test_config_show_hides_every_url_form_and_secret_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env.update({name: url for name, (url, _) in LEAKY_URLS.items()})
    shown = {}
    for output in ("toml", "json"):
        command = ["--data-dir", str(tmp_path), "config", "show", "--output", output]
        done = subprocess.run(
            [sys.executable, "-m", "shoplake.cli", *command],
            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for _, secret in LEAKY_URLS.values():
            assert secret not in done.stdout + done.stderr, (output, secret)
        shown[output] = done.stdout
    config = json.loads(shown["json"])
    assert config["source"]["url"] == "postgresql://alice:***@db.internal/shop"
    assert config["vectors"]["url"] == "postgresql://alice@db/vec?password=***"
    assert config["stream"]["url"] == "rediss://:***@cache:6380/0"
    assert config["lake"]["catalog_uri"].endswith("?sslmode=require&sslpassword=***")
    assert config["supplier"]["url"] == "https://api.example.com/?api_key=***"
    assert config["supplier"]["token"] == config["supplier"]["client_secret"] == "***"
    assert config["doctor"]["api_key"] == "***"


def test_secret_settings_are_secret_strings(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shoplake.config import Settings, child_environment

    monkeypatch.setenv("SHOPLAKE_SUPPLIER__TOKEN", "tok-7Secret")
    monkeypatch.setenv("SHOPLAKE_SUPPLIER__CLIENTS__ACME__SECRET", "acme-8Secret")
    settings = load_settings(**{"doctor.api_key": "slk_9Secret"})
    supplier = settings.supplier
    assert isinstance(supplier.token, SecretStr) and isinstance(supplier.client_secret, SecretStr)
    assert supplier.token.get_secret_value() == "tok-7Secret"
    assert supplier.clients["acme"].secret.get_secret_value() == "acme-8Secret"
    for secret in ("tok-7Secret", "acme-8Secret", "slk_9Secret", "local-supplier-secret"):
        assert secret not in repr(settings) and secret not in str(effective_config(settings))
    # a child process still receives the values themselves
    env = child_environment(settings)
    for name in [k for k in os.environ if k.startswith("SHOPLAKE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(os, "environ", {**os.environ, **env})
    rebuilt = Settings()
    assert rebuilt.supplier.token == SecretStr("tok-7Secret")
    assert rebuilt.doctor.api_key == SecretStr("slk_9Secret")
    assert rebuilt == settings


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
