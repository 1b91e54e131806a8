"""What the analytics endpoints share: the role check, the platform, reading the lakehouse."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from shoplake.errors import QueryError, TableNotFoundError
from shoplake.platform import Platform
from shoplake.serve.auth import require_role
from shoplake.serve.responses import serve_state

if TYPE_CHECKING:
    pass

#: One dependency object, so an endpoint that also asks for the caller runs it once.
analyst_or_admin = require_role("analyst", "admin")

FACTS = "gold.fact_orders"
#: How many of a customer's purchased products explain one recommendation.
REASONS_PER_ITEM = 3
NOT_BUILT = "run `shoplake ingest` and `shoplake transform` to build gold"


def platform_of(request: Request) -> Platform:
    """The platform the app serves (a FastAPI dependency)."""
    return serve_state(request).platform


PlatformDep = Annotated[Platform, Depends(platform_of)]


# Reading the lakehouse -----------------------------------------------------------------------


def lakehouse_rows(platform: Platform, sql: str) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of ``sql``, or no rows and a note when a table it reads is not there yet."""
    try:
        return platform.query(sql).table.to_pylist(), None
    except TableNotFoundError as exc:
        missing = re.search(r"'([\w.]+)'", str(exc))
        return [], f"{missing[1] if missing else 'a table'} does not exist yet: {NOT_BUILT}"
    except QueryError as exc:
        return [], str(exc)


def money(value: Decimal | float | None) -> float:
    """A currency amount as a JSON number (exact to the cent: 2 decimals survive a float)."""
    return round(float(value), 2) if value is not None else 0.0


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list(values: Iterable[str]) -> str:
    return ", ".join(sql_text(v) for v in sorted(set(values))) or "NULL"


def moment(iso: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso) if iso else None
