"""Typed shorthands for PyIceberg row filters (its pydantic models confuse type checkers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression


def equals(column: str, value: Any) -> BooleanExpression:
    """Rows whose ``column`` equals ``value``."""
    from pyiceberg.expressions import EqualTo

    return EqualTo(column, value)  # type: ignore[call-arg, arg-type]


def one_of(column: str, values: Iterable[Any]) -> BooleanExpression:
    """Rows whose ``column`` is one of ``values``."""
    from pyiceberg.expressions import In

    return In(column, tuple(values))  # type: ignore[call-arg, arg-type]


def at_least(column: str, value: Any) -> BooleanExpression:
    """Rows whose ``column`` is greater than or equal to ``value``."""
    from pyiceberg.expressions import GreaterThanOrEqual

    return GreaterThanOrEqual(column, value)  # type: ignore[call-arg, arg-type]
