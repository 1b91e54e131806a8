"""SQL names: quoting identifiers, and which lakehouse tables a statement names (found by
parsing; nothing is bound or run)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def quote_identifier(name: str) -> str:
    """A double-quoted SQL identifier (embedded quotes doubled): DuckDB, SQLite, PostgreSQL."""
    return '"' + name.replace('"', '""') + '"'


def parse_select(sql: str) -> Any:
    """Parse one DuckDB statement with sqlglot; raises sqlglot's ParseError on bad SQL."""
    import sqlglot

    return sqlglot.parse_one(sql, read="duckdb")


def lakehouse_tables(tree: Any, namespaces: Iterable[str]) -> frozenset[str]:
    """``namespace.table`` names in a parsed statement whose namespace is a lakehouse layer.

    CTE names are never schema-qualified, so qualified names are always real tables.
    """
    from sqlglot import exp

    layers = set(namespaces)
    return frozenset(f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db in layers)
