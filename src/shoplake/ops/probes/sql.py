"""SQL databases through SQLAlchemy: connection, a read of each table, a reverted write.

:class:`SqlServerProbe` covers databases reached over the network or a Unix socket
(PostgreSQL, MySQL); SQLite files are probed by :mod:`.files`. Both run the same *access
checks* (:func:`read_tables`, :func:`catalog_access`, …) on an open connection.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shoplake.ops.doctor import Failed, Limits, Measured
from shoplake.ops.probes.network import Address, NetworkProbe
from shoplake.redact import error_message, redact
from shoplake.sourcedb import CREATE_SOURCE

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

#: A permission check on an open connection; returns its detail or raises Failed.
Access = Callable[["Connection", "SqlContext"], str]


class SqlContext:
    """What diagnoses name: the URL (masked), the setting, the user and the database."""

    def __init__(self, url: str, config_key: str) -> None:
        from shoplake.sourcedb import parse_url

        self.url = url
        self.config_key = config_key
        self.parsed: URL = parse_url(url)
        self.user = self.parsed.username or "(default user)"
        self.database = self.parsed.database or ""
        self.backend = self.parsed.get_backend_name()

    @property
    def masked(self) -> str:
        return redact(self.url)


def open_engine(context: SqlContext, timeout: float) -> Engine:
    """An engine whose connections and statements are bounded by ``timeout``."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from shoplake.sourcedb import normalize_url

    seconds = max(1, math.ceil(timeout))
    args: dict[str, Any] = {}
    if context.backend == "postgresql":
        args = {"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"}
    elif context.backend == "mysql":
        args = {"connect_timeout": seconds, "read_timeout": seconds}
    elif context.backend == "sqlite":
        args = {"timeout": timeout}
    try:
        return create_engine(normalize_url(context.url), connect_args=args, poolclass=NullPool)
    except ModuleNotFoundError as exc:
        raise Failed(
            f"no driver for {context.masked} ({exc.name} is not installed)",
            "install it: pip install 'shoplake[postgres]' for PostgreSQL",
        ) from None


def diagnose_error(exc: BaseException, context: SqlContext, doing: str) -> Failed:
    """The diagnosis of a driver error raised while ``doing`` something."""
    message = error_message(exc, url=context.url)
    if context.backend == "postgresql":
        from shoplake.ops.probes.postgres import classify

        known = classify(message, context)
        if known is not None:
            return known
    return Failed(
        f"{doing} on {context.masked} failed: {message}",
        f"check {context.config_key} and the database server's log",
    )


def read_tables(conn: Connection, context: SqlContext) -> str:
    """``SELECT 1 … LIMIT 1`` from every table of the default schema (what ingest reads)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    tables = sorted(inspect(conn).get_table_names())
    if not tables:
        raise Failed(
            f"{context.masked} has no tables: there is nothing to ingest",
            f"create the source with {CREATE_SOURCE}, or point {context.config_key} at the "
            "shop's database",
        )
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        try:
            conn.execute(text(f"SELECT 1 FROM {quote(table)} LIMIT 1")).all()
        except SQLAlchemyError as exc:
            conn.rollback()
            raise diagnose_error(exc, context, f"reading table {table}") from None
    conn.rollback()
    noun = "table" if len(tables) == 1 else "tables"
    more = ", …" if len(tables) > 4 else ""
    return f"read {len(tables)} {noun} ({', '.join(tables[:4])}{more})"


def reverted_write(conn: Connection, statements: list[str], context: SqlContext) -> None:
    """Run write statements in a transaction and roll it back: nothing stays written."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    if conn.in_transaction():
        conn.rollback()
    try:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock: proves writability
        for statement in statements:
            conn.execute(text(statement))
    except SQLAlchemyError as exc:
        raise diagnose_error(exc, context, "a reverted write probe") from None
    finally:
        conn.rollback()


def catalog_access(conn: Connection, context: SqlContext) -> str:
    """Count the catalog's tables, then insert a namespace property and roll it back."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    present = set(inspect(conn).get_table_names())
    probe = f"doctor_{uuid.uuid4().hex[:12]}"
    if "iceberg_tables" not in present:
        reverted_write(conn, [f"CREATE TABLE {probe} (x INTEGER)", f"DROP TABLE {probe}"], context)
        return "empty catalog (created by the first `shoplake ingest`); CREATE TABLE reverted"
    try:
        count = conn.execute(text("SELECT count(*) FROM iceberg_tables")).scalar_one()
    except SQLAlchemyError as exc:
        raise diagnose_error(exc, context, "reading iceberg_tables") from None
    conn.rollback()
    write = (
        "INSERT INTO iceberg_namespace_properties "
        "(catalog_name, namespace, property_key, property_value) "
        f"VALUES ('{probe}', '{probe}', 'doctor', 'probe')"
    )
    statements = [write] if "iceberg_namespace_properties" in present else []
    reverted_write(conn, statements, context)
    from shoplake.cli.output import plural

    return f"{plural(count, 'table')} registered; write probe reverted"


def select_one(conn: Connection) -> None:
    """The cheapest round trip: ``SELECT 1``."""
    from sqlalchemy import text

    conn.execute(text("SELECT 1")).all()
    conn.rollback()


class SqlServerProbe(NetworkProbe):
    """A database server: network layers, login (auth), access checks, ``SELECT 1`` latency."""

    def __init__(
        self,
        name: str,
        context: SqlContext,
        address: Address,
        access: Access,
        limits: Limits,
        *,
        tls_skipped: str | None,
        tls_fix: str = "",
    ) -> None:
        super().__init__(
            name, context.url, address, limits, tls_skipped=tls_skipped, tls_fix=tls_fix
        )
        self.context = context
        self.access = access
        self.engine: Engine | None = None
        self.conn: Connection | None = None

    def auth(self) -> str:
        from sqlalchemy.exc import SQLAlchemyError

        self.engine = open_engine(self.context, self.timeout)
        try:
            self.conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise diagnose_error(exc, self.context, "logging in") from None
        return f"logged in as {self.context.user} to database {self.context.database}"

    def permission(self) -> str:
        assert self.conn is not None
        return self.access(self.conn, self.context)

    def latency(self) -> Measured:
        conn = self.conn
        assert conn is not None
        return self.limits.latency(
            lambda: select_one(conn),
            "SELECT 1",
            f"{self.address} answers slowly: check the server's load and the network",
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()
