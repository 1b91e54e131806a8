"""Model SQL for Spark: the DuckDB-dialect models translated by sqlglot, with the lakehouse
tables they read renamed to the run's temp views and the few constructs sqlglot carries over
with a different meaning (or none) in Spark rewritten on the syntax tree.

Each fix is one function from a node to its Spark equivalent (or the node unchanged), applied
to every node of the parsed model after sqlglot's own DuckDB → Spark rules are known not to
cover it:

- ``CAST('0x' || hex AS BIGINT)``: DuckDB reads a ``0x`` string as hexadecimal; Spark returns
  NULL (or fails under ANSI). Becomes ``CAST(conv(hex, 16, 10) AS BIGINT)``.
- ``epoch_us(ts)`` has no sqlglot mapping: becomes ``unix_micros(ts)``.
- ``epoch(ts)`` is fractional seconds in DuckDB; sqlglot's ``unix_timestamp`` truncates to
  whole seconds. Becomes ``unix_micros(ts) / 1e6``.
- ``'infinity'::TIMESTAMP`` does not exist in Spark: becomes the largest timestamp.
- ``CAST(unnest(list) AS T)``: Spark refuses a generator inside an expression, so the cast
  moves inside: ``explode(CAST(list AS ARRAY<T>))``.
- ``monthname``/``dayname`` are full names in DuckDB, three letters in Spark: become
  ``date_format(d, 'MMMM')`` / ``date_format(d, 'EEEE')``.
- ``isodow(d)`` (Monday 1 … Sunday 7) becomes ``weekday(d) + 1``; sqlglot's rendering is off
  by one day.
- ``a / b`` is floating-point division in DuckDB whatever the operand types; Spark divides
  decimals exactly. Both operands are cast to DOUBLE so the results agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

#: The value Spark stands in for DuckDB's ``'infinity'`` timestamp.
LATEST_TIMESTAMP = "9999-12-31 23:59:59.999999"
_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPNTZ", "TIMESTAMPLTZ", "DATETIME")


def view_name(table: str) -> str:
    """The Spark temp view of a lakehouse table: ``silver.orders`` → ``silver__orders``."""
    return table.replace(".", "__")


def to_spark(sql: str, layers: tuple[str, ...] = ("bronze", "silver", "gold")) -> str:
    """Translate one DuckDB model to Spark SQL, reading each ``layer.table`` from its temp
    view (:func:`view_name`)."""
    import sqlglot

    tree = sqlglot.parse_one(sql, read="duckdb")
    for fix in FIXES:
        tree = tree.transform(fix)
    tree = tree.transform(lambda node: _rename_table(node, layers))
    return tree.sql(dialect="spark")


def _rename_table(node: exp.Expression, layers: tuple[str, ...]) -> exp.Expression:
    from sqlglot import exp

    if isinstance(node, exp.Table) and node.db in layers:
        renamed = exp.to_table(view_name(f"{node.db}.{node.name}"))
        if node.alias:
            renamed.set("alias", node.args["alias"])
        return renamed
    return node


def _string_literal(node: exp.Expression | None) -> str | None:
    from sqlglot import exp

    return node.name if isinstance(node, exp.Literal) and node.is_string else None


def fix_hex_cast(node: exp.Expression) -> exp.Expression:
    """``CAST('0x' || x AS <integer>)`` → ``CAST(conv(x, 16, 10) AS <integer>)``."""
    from sqlglot import exp

    if not (isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.INTEGER_TYPES)):
        return node
    inner = node.this
    if not isinstance(inner, exp.DPipe) or _string_literal(inner.this) != "0x":
        return node
    digits = exp.Anonymous(
        this="conv",
        expressions=[inner.expression, exp.Literal.number(16), exp.Literal.number(10)],
    )
    return exp.Cast(this=digits, to=node.to.copy())


def fix_epoch(node: exp.Expression) -> exp.Expression:
    """``epoch_us(ts)`` → ``unix_micros(ts)``; ``epoch(ts)`` → ``unix_micros(ts) / 1e6``."""
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_us":
        return exp.Anonymous(this="unix_micros", expressions=node.expressions)
    if isinstance(node, exp.TimeToUnix) and not node.args.get("format"):
        micros = exp.Anonymous(this="unix_micros", expressions=[node.this])
        return exp.Div(this=micros, expression=exp.Literal.number("1e6"))
    return node


def fix_infinity(node: exp.Expression) -> exp.Expression:
    """``CAST('infinity' AS TIMESTAMP…)`` → the latest timestamp Spark can hold."""
    from sqlglot import exp

    if (
        isinstance(node, exp.Cast)
        and (_string_literal(node.this) or "").lower() in ("infinity", "+infinity")
        and node.to.this.name in _TIMESTAMPS
    ):
        return exp.Cast(this=exp.Literal.string(LATEST_TIMESTAMP), to=node.to.copy())
    return node


def fix_cast_of_unnest(node: exp.Expression) -> exp.Expression:
    """``CAST(unnest(list) AS T)`` → ``unnest(CAST(list AS T[]))`` (``explode`` in Spark)."""
    from sqlglot import exp

    if not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Explode)):
        return node
    explode = node.this
    array_type = exp.DataType(
        this=exp.DataType.Type.ARRAY, expressions=[node.to.copy()], nested=True
    )
    return explode.__class__(this=exp.Cast(this=explode.this, to=array_type))


def fix_names(node: exp.Expression) -> exp.Expression:
    """``monthname(d)`` / ``dayname(d)`` → the full English name, as DuckDB gives it."""
    from sqlglot import exp

    patterns: dict[type[exp.Expression], str] = {exp.Monthname: "MMMM", exp.Dayname: "EEEE"}
    pattern = patterns.get(type(node))
    if pattern is None:
        return node
    return exp.Anonymous(this="date_format", expressions=[node.this, exp.Literal.string(pattern)])


def fix_isodow(node: exp.Expression) -> exp.Expression:
    """``isodow(d)`` → ``weekday(d) + 1`` (Spark's weekday is 0 for Monday)."""
    from sqlglot import exp

    if not isinstance(node, exp.DayOfWeekIso):
        return node
    weekday = exp.Anonymous(this="weekday", expressions=[node.this])
    return exp.Paren(this=exp.Add(this=weekday, expression=exp.Literal.number(1)))


def fix_division(node: exp.Expression) -> exp.Expression:
    """``a / b`` → ``CAST(a AS DOUBLE) / CAST(b AS DOUBLE)``, DuckDB's meaning of ``/``."""
    from sqlglot import exp

    if not isinstance(node, exp.Div) or node.args.get("typed"):
        return node
    if all(_is_double(side) for side in (node.this, node.expression)):
        return node
    return exp.Div(
        this=_as_double(node.this),
        expression=_as_double(node.expression),
        typed=False,
        safe=node.args.get("safe"),
    )


def _is_double(node: exp.Expression) -> bool:
    from sqlglot import exp

    if isinstance(node, exp.Cast):
        return node.to.is_type(exp.DataType.Type.DOUBLE)
    return isinstance(node, exp.Literal) and not node.is_string and "e" in node.name.lower()


def _as_double(node: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    return node if _is_double(node) else exp.cast(node.copy(), exp.DataType.Type.DOUBLE)


FIXES: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    fix_hex_cast,
    fix_epoch,
    fix_infinity,
    fix_cast_of_unnest,
    fix_names,
    fix_isodow,
    fix_division,
)
