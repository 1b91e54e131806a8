"""Read-only SQL over lakehouse tables with DuckDB.

Tables are addressed as ``bronze.orders``, ``silver.customers``, ``gold.fact_orders``. Only a
single SELECT (or WITH … SELECT) statement is accepted; the DuckDB connection is then locked
with external access disabled, so no file, URL or extension can be read, written or loaded.
A caller may pass ``prepare`` to change each table's Arrow data before DuckDB sees it (the API
masks PII this way) and a ``timeout`` after which the running query is interrupted.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.errors import QueryError, QueryRefusedError, ShoplakeError, TableNotFoundError
from shoplake.lake.catalog import NAMESPACES, list_tables
from shoplake.lake.naming import bare_table, unknown_table

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.catalog import Catalog

    from shoplake.lake.query_limits import TruncatedBy

_ALLOWED_STATEMENTS = {"SELECT"}
_LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)*", re.S)
_MISSING_TABLE = re.compile(r'Catalog Error: Table with name "?(?P<name>[^"!]+?)"? does not exist')

#: ``prepare(table_name, data)``: what DuckDB sees of one lakehouse table.
Prepare = Callable[[str, "pa.Table"], "pa.Table"]


@dataclass
class QueryResult:
    """Rows of a query (at most ``max_rows``) and whether more were cut off, and by what."""

    table: pa.Table
    truncated: bool
    seconds: float
    truncated_by: TruncatedBy | None = None


def check_read_only(sql: str) -> str:
    """Return the single statement in ``sql`` or raise QueryRefusedError saying why not."""
    import duckdb

    text = sql.strip().rstrip(";").strip()
    if not text:
        raise QueryRefusedError("empty query: give one SELECT statement")
    try:
        statements = locked_connection().extract_statements(text)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefusedError(
            f"refused: {len(statements)} statements; only a single read-only SELECT is allowed"
        )
    try:
        kind = str(statements[0].type).rsplit(".", 1)[-1]
    except ValueError:  # a statement type newer than the Python enum (UPDATE EXTENSIONS)
        first = _LEADING_COMMENTS.sub("", text).split(None, 1)[0].upper()
        kind = "UNKNOWN" if first in _ALLOWED_STATEMENTS else first
    if kind not in _ALLOWED_STATEMENTS:
        words = _LEADING_COMMENTS.sub("", text).split(None, 1)
        keyword = words[0].upper() if words else kind
        named = f" ({keyword})" if keyword != kind else ""
        raise QueryRefusedError(
            f"refused: {kind} statement{named}; only a single read-only SELECT is allowed"
        )
    return text


def referenced_tables(sql: str) -> frozenset[str]:
    """Lakehouse tables (``namespace.table``) a query names, found by parsing alone.

    Parsing never binds the query, so no table function (``glob``, ``read_csv``) runs here.
    """
    from sqlglot.errors import SqlglotError

    from shoplake.lake.sqlnames import lakehouse_tables, parse_select

    try:
        return lakehouse_tables(parse_select(sql), NAMESPACES)
    except SqlglotError as exc:  # a parse or tokenizer error
        raise QueryError(f"cannot parse query: {str(exc).strip().splitlines()[0]}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def locked_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read no file, URL or extension, and cannot be unlocked."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET python_enable_replacements = false")  # no Python variables as tables
    con.execute("SET lock_configuration = true")
    return con


def _expose_tables(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    tables: frozenset[str],
    known: list[str],
    prepare: Prepare | None = None,
) -> None:
    """Make lakehouse tables readable as ``namespace.table`` views over Arrow scans (each
    passed through ``prepare`` first, when given)."""
    for namespace in NAMESPACES:
        con.execute(f'CREATE SCHEMA "{namespace}"')
    for name in sorted(tables):
        if name not in known:
            raise TableNotFoundError(unknown_table(name, known))
        namespace, table = name.split(".")
        data = catalog.load_table(name).scan().to_arrow()
        con.register(f"__{namespace}__{table}", prepare(name, data) if prepare else data)
        con.execute(
            f'CREATE VIEW "{namespace}"."{table}" AS SELECT * FROM "__{namespace}__{table}"'
        )


def _missing_table(exc: duckdb.Error, known: list[str]) -> ShoplakeError:
    """DuckDB's catalog error as shoplake's line: a bare name (``FROM orders``) gets the
    qualified names it could mean, an unknown layer the closest table."""
    found = _MISSING_TABLE.match(str(exc))
    if found is None:
        return QueryError(f"query failed: {_first_line(exc)}")
    name = found["name"]
    if "." in name:
        return TableNotFoundError(unknown_table(name, known))
    return TableNotFoundError(bare_table(name, known))


def run_query(
    catalog: Catalog,
    sql: str,
    *,
    max_rows: int,
    max_bytes: int | None = None,
    timeout: float | None = None,
    prepare: Prepare | None = None,
) -> QueryResult:
    """Run one read-only statement over the lakehouse and return up to ``max_rows`` rows and
    ``max_bytes`` bytes of JSON rows (:mod:`shoplake.lake.query_limits`).

    With ``timeout`` (seconds), the statement is interrupted when it runs longer.
    """
    import duckdb

    from shoplake.lake.query_json import faithful
    from shoplake.lake.query_limits import collect

    text = check_read_only(sql)
    started = time.perf_counter()
    con = locked_connection()
    timer = threading.Timer(timeout, con.interrupt) if timeout else None
    known = list_tables(catalog)
    try:
        _expose_tables(con, catalog, referenced_tables(text), known, prepare)
        if timer is not None:
            timer.start()
        reader = faithful(con.sql(text)).to_arrow_reader(min(max_rows + 1, 100_000))
        kept = collect(reader, max_rows=max_rows, max_bytes=max_bytes)
    except duckdb.InterruptException:
        raise QueryError(f"query timed out after {timeout:g} s and was stopped") from None
    except duckdb.CatalogException as exc:
        raise _missing_table(exc, known) from None
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {_first_line(exc)}") from None
    finally:
        if timer is not None:
            timer.cancel()
        con.close()
    seconds = time.perf_counter() - started
    return QueryResult(kept.table, kept.truncated_by is not None, seconds, kept.truncated_by)


def rows_as_json(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as JSON-ready objects, repeated column names made unique
    (:func:`shoplake.lake.query_json.json_rows`)."""
    from shoplake.lake.query_json import json_rows

    return json_rows(table)
