"""One redaction for URLs and driver errors: every URL form, query parameters, messages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoplake.redact import error_message, redact, url_password
from shoplake.services import free_port
from tests.support.postgres import (
    DB_USER,
    TCP_PASSWORD,
    EmbeddedPostgres,
    postgres_or_skip,
)

URLS = [
    # (url as configured, as it may be shown)
    (
        "postgresql://alice:pa/ss9Secret@db.internal:5432/shop",
        "postgresql://alice:***@db.internal:5432/shop",
    ),
    ("postgresql://alice:p@ss@w0rd@db/shop", "postgresql://alice:***@db/shop"),
    ("postgresql://alice:pa%2Fss%40w0rd@db/shop", "postgresql://alice:***@db/shop"),
    ("postgresql://alice:a:b:c@db/shop", "postgresql://alice:***@db/shop"),
    (
        "postgresql+psycopg://alice:s3cret@db:5432/shop",
        "postgresql+psycopg://alice:***@db:5432/shop",
    ),
    ("mysql+pymysql://u:p%40ss@h/db", "mysql+pymysql://u:***@h/db"),
    (
        "mysql+pymysql://root:r00t/pw@127.0.0.1:3306/classicmodels?charset=utf8mb4",
        "mysql+pymysql://root:***@127.0.0.1:3306/classicmodels?charset=utf8mb4",
    ),
    ("redis://:v4lkey@127.0.0.1:6390/0", "redis://:***@127.0.0.1:6390/0"),
    ("postgresql://alice@db/shop?password=qSecret1", "postgresql://alice@db/shop?password=***"),
    (
        "postgresql://db/shop?sslmode=require&sslpassword=kSecret2&application_name=x",
        "postgresql://db/shop?sslmode=require&sslpassword=***&application_name=x",
    ),
    (
        "https://api.example.com/v1?token=tSecret3&page=2",
        "https://api.example.com/v1?token=***&page=2",
    ),
    ("https://api.example.com/v1?api_key=aSecret4", "https://api.example.com/v1?api_key=***"),
    ("https://h/x?secret=zSecret5&access_key=AKzz", "https://h/x?secret=***&access_key=***"),
    (
        "s3://AKIAIOSFODNN7EXAMPLE:wJalr/XUtnFEMI%2FK7MDENG@bucket/warehouse",
        "s3://***:***@bucket/warehouse",
    ),
    (
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12",
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
    ),
    # nothing secret: unchanged
    ("sqlite:////tmp/a:b/source.db", "sqlite:////tmp/a:b/source.db"),
    (
        "postgresql://alice@db:5432/shop?sslmode=require",
        "postgresql://alice@db:5432/shop?sslmode=require",
    ),
    ("file:///tmp/warehouse", "file:///tmp/warehouse"),
]


@pytest.mark.parametrize(("url", "shown"), URLS)
def test_every_url_form_loses_its_secret(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(("url", "_"), URLS[:8])
def test_a_url_inside_a_message_is_redacted_too(url: str, _: str) -> None:
    message = f"cannot connect to source {url!r}: timeout"
    password = url_password(url)
    assert password is not None
    assert password not in redact(message)
    assert redact(message).endswith("***@" + url.rsplit("@", 1)[1] + "': timeout")


def test_driver_messages_lose_passwords_tokens_and_keys() -> None:
    assert (
        redact("invalid dsn: host=db user=alice password=pa/ss9 dbname=shop")
        == "invalid dsn: host=db user=alice password=*** dbname=shop"
    )
    assert redact("conninfo \"password='x y z' host=h\"") == "conninfo \"password='***' host=h\""
    assert redact('{"client_secret": "abc123", "page": 2}') == '{"client_secret": "***", "page": 2}'
    assert redact("{'token': 'tok-9'}") == "{'token': '***'}"
    assert redact("Authorization: Bearer eyJhbGci.x-y_z") == "Authorization: Bearer ***"
    # a pymysql refusal says "using password: YES": no secret, kept readable
    refusal = "(1045, \"Access denied for user 'alice'@'localhost' (using password: YES)\")"
    assert redact(refusal) == refusal


def test_known_secrets_are_removed_in_any_form() -> None:
    text = "login failed with pa/ss9 (escaped pa%2Fss9)"
    assert redact(text, ["pa%2Fss9"]) == "login failed with *** (escaped ***)"
    assert redact("a b", ["", None, "b"]) == "a b"  # too short to replace safely


def test_url_password() -> None:
    assert url_password("postgresql://alice:p@ss@db/shop") == "p@ss"
    assert url_password("postgresql://alice@db/shop") is None
    assert url_password("redis://:pw1@h") == "pw1"


class _DriverError(Exception):
    pass


class _WrappedError(Exception):
    def __init__(self, message: str, orig: Exception) -> None:
        super().__init__(message)
        self.orig = orig


def test_error_message_keeps_the_drivers_first_line_redacted() -> None:
    orig = _DriverError(
        'connection to server at "db" failed: password=pa/ss9 rejected\nDETAIL: more\n'
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
    )
    wrapped = _WrappedError(
        "(psycopg.OperationalError) ... [parameters: ('alice@example.com',)]", orig
    )
    assert error_message(wrapped) == 'connection to server at "db" failed: password=*** rejected'
    assert error_message(_DriverError("")) == "_DriverError"
    assert (
        error_message(_DriverError("x\n(Background on this error at: https://sqlalche.me/e)"))
        == "x"
    )
    assert error_message(ValueError("bad pa/ss9 here"), ["pa/ss9"]) == "bad *** here"
    url = "postgresql://alice:pa%2Fss9@db/shop"
    assert error_message(ValueError("login pa/ss9 refused"), url=url) == "login *** refused"


def test_error_message_of_a_real_sqlalchemy_error() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:////nonexistent-dir/x.db")
    with pytest.raises(sa.exc.OperationalError) as caught:
        engine.connect()
    assert "Background on this error" in str(caught.value)
    assert error_message(caught.value) == "unable to open database file"


# Where URLs and driver errors surface: the CLI's errors and Dagster's run storage ----------

SECRET_PASSWORD, SECRET_PARAM = "wr/ong9Secret", "kSecret2"


def _shoplake(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir), *args],
        env=clean | env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _files_holding(root: Path, *secrets: str) -> list[str]:
    """Every file under ``root`` (SQLite databases included) whose bytes hold a secret."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in secrets if s.encode() in data]
    return found


@pytest.fixture(scope="module")
def tcp_postgres() -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL on 127.0.0.1 that checks passwords (SCRAM)."""
    with postgres_or_skip(tcp_port=free_port()) as server:
        yield server


@pytest.mark.integration
def test_ingest_refused_by_postgres_names_no_secret(
    tmp_path: Path, tcp_postgres: EmbeddedPostgres
) -> None:
    url = tcp_postgres.tcp_url(SECRET_PASSWORD, sslpassword=SECRET_PARAM)
    done = _shoplake(tmp_path, "ingest", SHOPLAKE_SOURCE__URL=url)
    assert done.returncode != 0
    assert f"postgresql+psycopg://{DB_USER}:***@127.0.0.1:{tcp_postgres.port}/" in done.stderr
    assert f'password authentication failed for user "{DB_USER}"' in done.stderr
    assert "9Secret" not in done.stdout + done.stderr
    assert SECRET_PARAM not in done.stdout + done.stderr


@pytest.mark.integration
def test_a_dagster_run_against_an_unreachable_source_stores_no_secret(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://alice:{SECRET_PASSWORD}@127.0.0.1:{port}/shop?sslpassword={SECRET_PARAM}"
    done = _shoplake(
        tmp_path, "run", "--select", "bronze.orders",
        SHOPLAKE_SOURCE__URL=url, SHOPLAKE_ORCHESTRATE__MAX_RETRIES="0",
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        f"bronze.orders                failed: cannot connect to source "
        f"'postgresql://alice:***@127.0.0.1:{port}/shop?sslpassword=***'"
    ) in done.stdout
    assert "9Secret" not in done.stdout + done.stderr and SECRET_PARAM not in done.stderr
    storage = tmp_path / "dagster"
    assert list(storage.glob("history/runs/*.db")), "the run was not recorded"
    assert list(storage.rglob("compute_logs/*")), "no compute logs were written"
    assert _files_holding(storage, "9Secret", SECRET_PARAM) == []
    assert _files_holding(tmp_path, "9Secret", SECRET_PARAM) == []


@pytest.mark.integration
def test_generate_prints_the_source_without_its_password(
    tmp_path: Path, tcp_postgres: EmbeddedPostgres
) -> None:
    url = tcp_postgres.tcp_url(TCP_PASSWORD, sslpassword=SECRET_PARAM)
    done = _shoplake(tmp_path, "generate", "--scale", "0.01", SHOPLAKE_SOURCE__URL=url)
    assert done.returncode == 0, done.stderr
    assert f"source postgresql+psycopg://{DB_USER}:***@127.0.0.1:" in done.stdout
    assert TCP_PASSWORD not in done.stdout + done.stderr
    assert SECRET_PARAM not in done.stdout + done.stderr


@pytest.mark.integration
@pytest.mark.parametrize("output", ["text", "json"])
def test_doctor_names_a_refused_password_without_it(
    tmp_path: Path, tcp_postgres: EmbeddedPostgres, output: str
) -> None:
    url = tcp_postgres.tcp_url(SECRET_PASSWORD, sslpassword=SECRET_PARAM)
    done = _shoplake(
        tmp_path, "doctor", "source", "--details", "--output", output, SHOPLAKE_SOURCE__URL=url
    )
    assert done.returncode == 1
    assert "password authentication failed for user postgres" in done.stdout
    assert "9Secret" not in done.stdout + done.stderr
    assert SECRET_PARAM not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://alice:pa/ss9Secret@db/shop",
        "postgresql://alice@db/shop?password=pa9Secret",
        "mysql+pymysql://root:r%2F9Secret@db/cm?sslpassword=x9Secret",
    ],
)
def test_assess_finds_and_masks_secrets_in_every_url_form(value: str) -> None:
    from shoplake.ops.assess.secrets_scan import classify, shown

    assert classify("source.url", value) == "password in a URL"
    assert "9Secret" not in shown("password in a URL", value)


@pytest.mark.integration
def test_a_catalog_refusing_its_password_is_one_line_without_it(
    tmp_path: Path, tcp_postgres: EmbeddedPostgres
) -> None:
    url = tcp_postgres.tcp_url(SECRET_PASSWORD, sslpassword=SECRET_PARAM)
    done = _shoplake(tmp_path, "tables", SHOPLAKE_LAKE__CATALOG_URI=url)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot open catalog 'postgresql+psycopg://{DB_USER}:***@")
    assert line.endswith(f'password authentication failed for user "{DB_USER}"')
    assert "9Secret" not in done.stdout + done.stderr and SECRET_PARAM not in line
