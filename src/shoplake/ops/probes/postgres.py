"""PostgreSQL: its address (TCP or Unix socket), TLS by SSLRequest, error diagnoses, pgvector.

TLS is checked only when ``sslmode`` requires it (``require``, ``verify-ca``, ``verify-full``):
the 8-byte SSLRequest is sent and the server answers ``S`` (then the handshake, with the
certificate checked as the mode asks) or ``N`` (TLS not offered).
"""

from __future__ import annotations

import os
import re
import struct
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.ops.doctor import Failed, Limits, Skipped
from shoplake.ops.probes.network import Address, connect, handshake, tls_context
from shoplake.ops.probes.sql import Access, SqlContext, SqlServerProbe, diagnose_error

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

DEFAULT_PORT = 5432
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
TLS_MODES = ("require", "verify-ca", "verify-full")


def _query_value(context: SqlContext, name: str) -> str | None:
    value = context.parsed.query.get(name)
    if isinstance(value, tuple):
        return value[0] if value else None
    return value


def _default_socket_dir() -> str:
    for candidate in (os.environ.get("PGHOST"), "/var/run/postgresql", "/tmp"):
        if candidate and Path(candidate).is_dir():
            return candidate
    return "/tmp"


def postgres_address(context: SqlContext) -> Address:
    """Where the server listens: ``host`` (or ``?host=``) and port; a directory is a socket."""
    port = context.parsed.port or DEFAULT_PORT
    host = _query_value(context, "host") or context.parsed.host
    fix = f"start the PostgreSQL server, or fix the host/port in {context.config_key}"
    if not host or host.startswith("/"):
        directory = host or _default_socket_dir()
        path = f"{directory.rstrip('/')}/.s.PGSQL.{port}"
        return Address("localhost", port, context.config_key, fix, unix_path=path)
    return Address(host, port, context.config_key, fix)


def _named(pattern: str, message: str, default: str) -> str | None:
    """The quoted name ``pattern`` (with one ``"(…)"`` group) finds in message, else None."""
    found = re.search(pattern, message)
    return (found.group(1) or default) if found else None


def _fatal(message: str) -> str:
    return message.rsplit("FATAL:", maxsplit=1)[-1].strip()


def classify(message: str, context: SqlContext) -> Failed | None:
    """A diagnosis of a PostgreSQL error message, or None when it is not a known one."""
    key, user = context.config_key, context.user
    failed_user = _named(r'password authentication failed for user "([^"]*)"', message, user)
    if failed_user is not None:
        return Failed(
            f"password authentication failed for user {failed_user}",
            f"fix the password in {key} (or PGPASSWORD / ~/.pgpass)",
        )
    if "no password supplied" in message:
        return Failed(
            f"the server asks user {user} for a password and {key} gives none",
            f"add it: postgresql+psycopg://{user}:PASSWORD@host/db in {key}",
        )
    role = _named(r'role "([^"]*)" does not exist', message, user)
    if role is not None:
        return Failed(
            f"role {role} does not exist on the server",
            f"create it (CREATE ROLE {role} LOGIN PASSWORD '…') or fix the user in {key}",
        )
    database = _named(r'database "([^"]*)" does not exist', message, context.database)
    if database is not None:
        return Failed(
            f"database {database} does not exist",
            f"create it (createdb {database}) or fix the database name in {key}",
        )
    if "pg_hba.conf" in message:
        return Failed(
            f"the server refuses user {user} from this host: {_fatal(message)}",
            "add a matching line to the server's pg_hba.conf and reload it",
        )
    if "permission denied" in message:
        return _permission_denied(message, context)
    return None


def _permission_denied(message: str, context: SqlContext) -> Failed:
    found = re.search(r"permission denied for (\w+) (\S+)", message)
    user = context.user
    if found is None:
        return Failed(f"{message} (role {user})", f"grant role {user} the privilege it lacks")
    kind, name = found.groups()
    if kind == "table":
        fix = f"role {user} needs `GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}`"
    elif kind == "schema":
        fix = f"role {user} needs `GRANT USAGE, CREATE ON SCHEMA {name} TO {user}`"
    else:
        fix = f"grant role {user} the privilege on {kind} {name}"
    return Failed(f"permission denied for {kind} {name} (role {user})", fix)


class PostgresProbe(SqlServerProbe):
    """A PostgreSQL server; TLS through SSLRequest when ``sslmode`` requires it."""

    def __init__(self, name: str, context: SqlContext, access: Access, limits: Limits) -> None:
        address = postgres_address(context)
        mode = _query_value(context, "sslmode") or "prefer"
        self.sslmode = mode
        skipped = None
        if address.unix_path:
            skipped = "Unix socket"
        elif mode not in TLS_MODES:
            skipped = f"not required (sslmode={mode})"
        super().__init__(
            name,
            context,
            address,
            access,
            limits,
            tls_skipped=skipped,
            tls_fix="enable ssl on the server (ssl = on) or set sslmode=prefer in "
            + context.config_key,
        )

    def tls(self) -> str:
        if self.tls_skipped:
            raise Skipped(self.tls_skipped)
        sock = connect(self.address, self.timeout)
        try:
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
        except OSError as exc:
            sock.close()
            raise Failed(f"SSLRequest to {self.address} failed: {exc}", self.tls_fix) from None
        if answer != b"S":
            sock.close()
            raise Failed(
                f"TLS required (sslmode={self.sslmode}) but not offered: {self.address} answered "
                f"{answer.decode(errors='replace') or 'nothing'!r} to SSLRequest",
                self.tls_fix,
            )
        context = tls_context(
            verify=self.sslmode != "require", check_hostname=self.sslmode == "verify-full"
        )
        root = _query_value(self.context, "sslrootcert")
        if root and self.sslmode != "require":
            context.load_verify_locations(root)
        return handshake(
            sock, self.address, context=context, plain="PostgreSQL", tls_fix=self.tls_fix
        )


def pgvector_access(conn: Connection, context: SqlContext) -> str:
    """The ``vector`` extension is installed, and a TEMP table with a vector column works."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    version = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    ).scalar()
    if version is None:
        available = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar()
        conn.rollback()
        if available:
            raise Failed(
                f"the vector extension is not installed in database {context.database}",
                f"run `CREATE EXTENSION vector` in {context.database} (as its owner or a "
                "superuser)",
            )
        raise Failed(
            "the server has no pgvector extension available",
            "install pgvector on the server (e.g. the postgresql-NN-pgvector package)",
        )
    probe = f"doctor_{uuid.uuid4().hex[:12]}"
    try:
        conn.execute(text(f"CREATE TEMP TABLE {probe} (embedding vector(3))"))
        conn.execute(text(f"INSERT INTO {probe} VALUES ('[1,2,3]')"))
        conn.execute(text(f"DROP TABLE {probe}"))
    except SQLAlchemyError as exc:
        raise diagnose_error(exc, context, "a TEMP vector table probe") from None
    finally:
        conn.rollback()
    return f"vector {version} installed; TEMP vector table created and dropped"
