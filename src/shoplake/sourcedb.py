"""Connections to the operational source database, shared by every stage that touches it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from shoplake.errors import SourceError
from shoplake.redact import error_message, redact

#: How to create a source database, for hints: PATH is optional (the shipped dump is the default).
CREATE_SOURCE = (
    "`shoplake generate` or `shoplake sources load-classicmodels [PATH] [--ratings shipped]` "
    "(the ClassicModels dump shipped with shoplake unless PATH names another)"
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine


def parse_url(url: str) -> URL:
    """Parse a SQLAlchemy URL, with a one-line error naming the bad URL (password masked)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError as exc:
        raise SourceError(f"invalid source URL {redact(url)!r}: {exc}") from None
    except ValueError:  # the port is not a number, often a password cut at an unescaped "@"
        raise SourceError(
            f"invalid source URL {redact(url)!r}: its port is not a number; percent-encode "
            "'/', '@' and ':' in its user name and password"
        ) from None


def dialect(url: str) -> str:
    """The backend name of a source URL: ``sqlite``, ``postgresql``, ``mysql``…"""
    return parse_url(url).get_backend_name()


def normalize_url(url: str) -> str:
    """Use psycopg 3 for bare ``postgresql://`` URLs (the driver shoplake installs)."""
    parsed = parse_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_source_engine(url: str) -> Engine:
    """A SQLAlchemy engine for the source; errors name the URL with its password masked."""
    from sqlalchemy import create_engine, event

    normalized = normalize_url(url)
    try:
        engine = create_engine(normalized)
    except ModuleNotFoundError as exc:
        raise SourceError(
            f"no driver for {redact(url)!r} ({exc.name} missing): "
            "install shoplake[postgres] for PostgreSQL sources"
        ) from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # No WAL: ADBC reads SQLite through its own copy of the library, and two copies in
            # one process must not share a WAL index (the second sees "disk I/O error").
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def check_connection(engine: Engine, url: str, *, must_exist: bool = False) -> None:
    """Open and close one connection, turning driver errors into a one-line SourceError.

    With ``must_exist``, a SQLite URL whose file is missing is an error rather than a new,
    empty database (SQLite would silently create one).
    """
    from sqlalchemy.exc import SQLAlchemyError

    path = sqlite_path(url)
    if must_exist and path is not None and not Path(path).exists():
        raise SourceError(
            f"source database {path} does not exist: create it with {CREATE_SOURCE}, "
            "or set source.url"
        )

    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = error_message(exc, url=url)
        raise SourceError(f"cannot connect to source {redact(url)!r}: {reason}") from None


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL, or None for other backends and in-memory databases."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    return parsed.database or None


def libpq_uri(url: str) -> str:
    """Turn a SQLAlchemy PostgreSQL URL into a libpq URI (for ADBC), keeping query options."""
    parsed = parse_url(url)
    auth = ""
    if parsed.username:
        auth = quote(parsed.username, safe="")
        if parsed.password:
            auth += ":" + quote(str(parsed.password), safe="")
        auth += "@"
    host = parsed.host or ""
    port = f":{parsed.port}" if parsed.port else ""
    query = {k: (v if isinstance(v, str) else v[0]) for k, v in parsed.query.items()}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgresql://{auth}{host}{port}/{parsed.database or ''}{suffix}"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One connection in one write transaction, committed at the end, rolled back on error.

    SQLite gets an explicit ``BEGIN IMMEDIATE``: DDL joins the transaction and the write lock
    is taken before anything is read.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
        conn.commit()
