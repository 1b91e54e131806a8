"""Data contracts: the checks a model's YAML declares, compiled to SQL and run in DuckDB.

Checks: grain (unique + not null), column ``not_null`` / ``unique`` / ``accepted_values`` /
``range``, ``relationships`` (every non-null value exists in another table), ``row_count``
(equals another table, or min/max) and ``freshness``. Each failing check reports how many rows
fail and a sample of their keys; values of the model's PII columns are never quoted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import duckdb

    from shoplake.transform.project import Model

from shoplake.lake.sqlnames import quote_identifier as q
from shoplake.transform.engines.duckdb import first_row

Status = Literal["pass", "fail", "error"]
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Check:
    """One contract check: a name and a query returning the offending rows' keys."""

    name: str
    failing_sql: str | None = None  # SELECT of offending rows (keys), or None for scalar checks
    scalar_sql: str | None = None  # SELECT returning (ok BOOLEAN, detail VARCHAR)


@dataclass
class CheckResult:
    """The outcome of one check on one model."""

    model: str
    check: str
    status: Status
    failing_rows: int = 0
    sample: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def compile_checks(model: Model, relation: str) -> Iterator[Check]:
    """The checks of a model's contract, as SQL over ``relation`` (the computed result)."""
    config = model.config
    keys = model.unique_key
    key_list = ", ".join(q(k) for k in keys) if keys else "*"
    grain = config.get("grain") or []
    if grain:
        cols = ", ".join(q(c) for c in grain)
        yield Check(
            f"grain unique ({', '.join(grain)})",
            f"SELECT {cols} FROM {relation} GROUP BY ALL HAVING count(*) > 1",
        )
        nulls = " OR ".join(f"{q(c)} IS NULL" for c in grain)
        yield Check(
            f"grain not null ({', '.join(grain)})",
            f"SELECT {key_list} FROM {relation} WHERE {nulls}",
        )
    for column, spec in (config.get("columns") or {}).items():
        spec = spec or {}
        col = q(column)
        if spec.get("not_null"):
            yield Check(
                f"{column} not null", f"SELECT {key_list} FROM {relation} WHERE {col} IS NULL"
            )
        if spec.get("unique"):
            yield Check(
                f"{column} unique",
                f"SELECT {col} FROM {relation} WHERE {col} IS NOT NULL GROUP BY ALL "
                "HAVING count(*) > 1",
            )
        if "accepted_values" in spec:
            values = ", ".join(literal(v) for v in spec["accepted_values"])
            yield Check(
                f"{column} accepted values",
                f"SELECT DISTINCT {col} FROM {relation} WHERE {col} IS NOT NULL "
                f"AND {col} NOT IN ({values})",
            )
        if "range" in spec:
            bounds = spec["range"] or {}
            outside = []
            if "min" in bounds:
                outside.append(f"{col} < {literal(bounds['min'])}")
            if "max" in bounds:
                outside.append(f"{col} > {literal(bounds['max'])}")
            if outside:
                text = " ".join(f"{k} {v}" for k, v in bounds.items())
                yield Check(
                    f"{column} range ({text})",
                    f"SELECT {key_list}, {col} FROM {relation} WHERE {' OR '.join(outside)}",
                )
    for rel in config.get("relationships") or []:
        col, target, field = rel["column"], rel["to"], rel.get("field", rel["column"])
        yield Check(
            f"relationship {col} → {target}.{field}",
            f"SELECT DISTINCT r.{q(col)} FROM {relation} r WHERE r.{q(col)} IS NOT NULL AND NOT "
            f"EXISTS (SELECT 1 FROM {target} t WHERE t.{q(field)} = r.{q(col)})",
        )
    yield from _row_count_checks(config.get("row_count") or {}, relation)
    freshness = config.get("freshness")
    if freshness:
        col, hours = q(freshness["column"]), float(freshness["max_age_hours"])
        # A model of an optional source may be empty: no rows are not stale rows.
        empty_ok = "count(*) = 0 OR " if model.optional_sources else ""
        yield Check(
            f"freshness ({freshness['column']} within {hours:g} h)",
            scalar_sql=(
                f"SELECT {empty_ok}coalesce(max({col}) >= now() - INTERVAL {hours * 3600:.0f} "
                f"SECOND, false), CASE WHEN count(*) = 0 THEN "
                f"'no rows{' (optional source)' if empty_ok else ''}' "
                f"ELSE 'latest ' || CAST(max({col}) AS VARCHAR) END FROM {relation}"
            ),
        )


def _row_count_checks(spec: dict[str, Any], relation: str) -> Iterator[Check]:
    count = f"(SELECT count(*) FROM {relation})"
    if "equals" in spec:
        other = f"(SELECT count(*) FROM {spec['equals']})"
        yield Check(
            f"row count equals {spec['equals']}",
            scalar_sql=f"SELECT {count} = {other}, {count} || ' rows vs ' || {other}",
        )
    if "min" in spec:
        yield Check(
            f"row count >= {spec['min']}",
            scalar_sql=f"SELECT {count} >= {int(spec['min'])}, {count} || ' rows'",
        )
    if "max" in spec:
        yield Check(
            f"row count <= {spec['max']}",
            scalar_sql=f"SELECT {count} <= {int(spec['max'])}, {count} || ' rows'",
        )


def run_checks(con: duckdb.DuckDBPyConnection, model: Model, relation: str) -> list[CheckResult]:
    """Run every check of a model's contract against ``relation`` in ``con``.

    The failing-row counts of all row checks are computed in one query; only checks that
    fail (or a batch that errors) are then run one by one for samples and messages.
    """
    import duckdb

    checks = list(compile_checks(model, relation))
    counts = _batch_counts(con, [c for c in checks if c.failing_sql is not None])
    results = []
    for check in checks:
        if counts is not None and check.failing_sql is not None and counts[check.name] == 0:
            results.append(CheckResult(model.target, check.name, "pass"))
            continue
        try:
            results.append(_run_one(con, model, check))
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            results.append(CheckResult(model.target, check.name, "error", message=message))
    return results


def _batch_counts(con: duckdb.DuckDBPyConnection, checks: list[Check]) -> dict[str, int] | None:
    """Failing-row counts of many checks in one query (None if any of them errors)."""
    import duckdb

    if not checks:
        return {}
    columns = ", ".join(f"(SELECT count(*) FROM ({c.failing_sql}))" for c in checks)
    try:
        row = first_row(con, f"SELECT {columns}")
    except duckdb.Error:
        return None
    assert row is not None
    return {c.name: int(n) for c, n in zip(checks, row, strict=True)}


def _run_one(con: duckdb.DuckDBPyConnection, model: Model, check: Check) -> CheckResult:
    target = model.target
    if check.scalar_sql is not None:
        row = first_row(con, check.scalar_sql)
        ok, detail = (bool(row[0]), str(row[1])) if row else (False, "no result")
        return CheckResult(target, check.name, "pass" if ok else "fail", message=detail)
    assert check.failing_sql is not None
    failing = first_row(con, f"SELECT count(*) FROM ({check.failing_sql})")
    count = int(failing[0]) if failing else 0
    if count == 0:
        return CheckResult(target, check.name, "pass")
    cursor = con.execute(f"{check.failing_sql} LIMIT {SAMPLE_SIZE}")
    pii = {c.lower() for c in model.pii_columns}
    private = [d[0].lower() in pii for d in cursor.description]
    sample = "; ".join(_describe(row, private) for row in cursor.fetchall())
    return CheckResult(target, check.name, "fail", count, sample, f"{count:,} rows, e.g. {sample}")


def _describe(row: tuple[Any, ...], private: list[bool]) -> str:
    """A sample row as text; a PII column's value shows as ``<pii>``, never in clear."""
    values = [
        "<pii>" if hidden else v.isoformat() if isinstance(v, dt.date) else v
        for v, hidden in zip(row, private, strict=True)
    ]
    return "(" + ", ".join(str(v) for v in values) + ")" if len(values) > 1 else str(values[0])


def failure_summary(results: list[CheckResult]) -> str:
    """One line naming every failed check and its sample offending keys."""
    failed = [r for r in results if r.status != "pass"]
    return "; ".join(f"{r.check} failed: {r.message}" for r in failed)
