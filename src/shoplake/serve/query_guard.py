"""What ``POST /query`` refuses before DuckDB runs anything, each with a one-line reason.

:func:`shoplake.lake.query.check_read_only` admits a single SELECT only (so no write, DDL,
ATTACH, COPY, INSTALL, LOAD, PRAGMA, SET, CALL, EXPORT or IMPORT). This guard then reads the
statement as DuckDB itself parses it (``json_serialize_sql``) and walks every node:

* tables must be lakehouse tables (``bronze.x``, ``silver.x``, ``gold.x``, ``audit.x``) or CTEs —
  no file names, URLs, other catalogs, system views or Python objects;
* table functions are allowed from a short list that reads nothing (``range``, ``unnest`` …);
* scalar, aggregate and window functions must be DuckDB built-ins that are not denied: nothing
  reading settings, variables or the environment, executing SQL text, or touching files;
* no string literal may be a URL (``https://``, ``s3://``, ``file://`` …).

The connection that then runs the query is locked with external access off as well, so the
guard is the clear message and the lock is the wall behind it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from shoplake.errors import QueryError, QueryRefusedError
from shoplake.lake.catalog import NAMESPACES
from shoplake.lake.query import check_read_only, locked_connection

#: Table functions that read nothing outside the query itself.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree"}
)
#: Functions DuckDB's binder handles itself, outside its function catalog.
SPECIAL_FUNCTIONS = frozenset({"unnest", "unlist"})
#: Built-ins refused although they read no file, and why.
DENIED_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(
        ("current_setting", "getenv", "getvariable", "current_query", "version", "user_agent"),
        "reveals settings or the environment",
    ),
    **dict.fromkeys(
        ("json_execute_serialized_sql", "json_serialize_plan", "query", "query_table"),
        "runs SQL text",
    ),
    **dict.fromkeys(
        ("nextval", "currval", "setval", "setseed", "write_log", "sleep_ms", "pg_sleep"),
        "changes state or stalls the server",
    ),
}
_READS = re.compile(
    r"^(read_|parquet_|sniff_|glob$|iceberg_|delta_|sqlite_|postgres_|mysql_)|_scan$"
)
_URL = re.compile(r"\b(https?|s3[an]?|gcs?|r2|azure?|abfss?|hf|file|ftp|sftp|ssh)://", re.I)
_TABLE_REFS = frozenset(
    {"BASE_TABLE", "TABLE_FUNCTION", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST", "PIVOT"}
)
_LAKEHOUSE = ", ".join(f"{n}.<table>" for n in NAMESPACES)


@dataclass(frozen=True)
class CheckedQuery:
    """A query the guard admits, and the lakehouse tables it reads."""

    sql: str
    tables: frozenset[str]


def guard(sql: str) -> CheckedQuery:
    """Admit one read-only SELECT over lakehouse tables, or raise QueryRefusedError saying why."""
    text = check_read_only(sql)
    tree = _parse(text)
    ctes = {name.lower() for name in _cte_names(tree)}
    tables: set[str] = set()
    for node in _walk(tree):
        kind = node.get("type")
        if kind is not None and "sample" in node and "alias" in node and "class" not in node:
            _check_table_ref(node, kind, ctes, tables)
        elif node.get("class") in ("FUNCTION", "WINDOW", "AGGREGATE"):
            _check_function(node)
        elif node.get("class") == "CONSTANT":
            literal = node.get("literal") or {}
            if literal.get("kind") == "STRING" and _URL.search(str(literal.get("text", ""))):
                raise QueryRefusedError(
                    f"refused: the string {str(literal['text'])[:60]!r} is a URL; "
                    "queries cannot read files or the network"
                )
    return CheckedQuery(text, frozenset(tables))


def _parse(text: str) -> dict[str, Any]:
    con = locked_connection()
    try:
        row = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    finally:
        con.close()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        reason = str(tree.get("error_message", "unparsable")).splitlines()[0]
        raise QueryError(f"cannot parse query: {reason}")
    return tree


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the tree, parents before children."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _cte_names(tree: dict[str, Any]) -> Iterator[str]:
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                yield str(entry.get("key", ""))


def _check_table_ref(node: dict[str, Any], kind: str, ctes: set[str], tables: set[str]) -> None:
    if kind == "SHOW_REF":
        raise QueryRefusedError(
            "refused: DESCRIBE, SHOW and SUMMARIZE are not allowed; "
            "GET /tables/{namespace}/{name} gives a table's schema and stats"
        )
    if kind not in _TABLE_REFS:
        raise QueryRefusedError(f"refused: {kind.replace('_', ' ').lower()} is not allowed")
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS:
            why = "reads files, the network or the database's internals"
            raise QueryRefusedError(
                f"refused: table function {name}() {why}; query lakehouse tables ({_LAKEHOUSE})"
            )
        return
    if kind != "BASE_TABLE":
        return
    catalog, schema = node.get("catalog_name") or "", node.get("schema_name") or ""
    table = str(node.get("table_name", ""))
    shown = ".".join(p for p in (catalog, schema, table) if p)
    if not catalog and schema in NAMESPACES:
        tables.add(f"{schema}.{table}")
        return
    if not catalog and not schema and table.lower() in ctes:
        return
    raise QueryRefusedError(
        f"refused: {shown!r} is not a lakehouse table; query {_LAKEHOUSE} (files, URLs, other "
        "databases and system tables cannot be read)"
    )


def _check_function(node: dict[str, Any]) -> None:
    name = str(node.get("function_name", "")).lower()
    if node.get("catalog") or node.get("schema"):
        raise QueryRefusedError(f"refused: qualified function name {name}(); use built-ins")
    if name in DENIED_FUNCTIONS:
        raise QueryRefusedError(f"refused: function {name}() {DENIED_FUNCTIONS[name]}")
    if _READS.search(name):
        raise QueryRefusedError(f"refused: function {name}() reads files or the network")
    if name not in _builtin_functions():
        raise QueryRefusedError(f"refused: function {name}() is unknown or not allowed")


@cache
def _builtin_functions() -> frozenset[str]:
    """DuckDB's own scalar, aggregate, window and macro functions (internal ones excluded)."""
    con = locked_connection()
    try:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'window', 'macro') "
            "AND NOT function_name LIKE '\\_\\_%' ESCAPE '\\'"
        ).fetchall()
    finally:
        con.close()
    return frozenset(name for (name,) in rows) | SPECIAL_FUNCTIONS
