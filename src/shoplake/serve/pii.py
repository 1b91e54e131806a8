"""Which lakehouse columns hold PII, and masking them before a query engine sees them.

Contracts tag PII columns (``pii: true``). From those tags the columns are traced with sqlglot
lineage through every model: **upstream** to the columns they are computed from (bronze's raw
camelCase ``customerName`` behind ``silver.customers.customer_name``), and **downstream** to any
model column computed from a PII column, tagged or not. As a safety net, any column whose
snake_case name is a tagged name (``postalCode`` → ``postal_code``) is PII in every table, and
so is every free-text column that can quote a refused or failing row — raw payloads, reasons,
errors, messages and samples (:data:`FREE_TEXT`), in whichever table and layer holds them.

Masking replaces each value with a keyed hash (``masked:`` + 10 hex digits; the key is random
per process), so an analyst can still count, group and join on a masked column but cannot read
or guess its values; nulls and empty strings stay as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog

    from shoplake.transform.project import Project

log = logging.getLogger(__name__)

#: Free-text columns that may quote any value of a refused or failing row — dead letters'
#: payloads and reasons, contract samples and messages, stored errors (``payload``,
#: ``failure_reason``, ``error_message``…): PII in every table, whatever the lineage says, since
#: no lineage follows a value quoted into text. Matched on the snake_case name's last word.
FREE_TEXT = re.compile(r"(^|_)(payload|raw|reason|error|message|sample|details?)$")
MASK_PREFIX = "masked:"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

PiiMap = dict[str, frozenset[str]]  # table -> its PII column names (as the table spells them)


def snake(name: str) -> str:
    """``contactLastName`` → ``contact_last_name``; ``addressLine1`` → ``address_line1``."""
    return _CAMEL.sub("_", name).lower()


class PiiColumns:
    """The PII columns of every table: traced by lineage once, checked by name on each use."""

    def __init__(self, traced: Mapping[str, Iterable[str]], tagged_names: Iterable[str]) -> None:
        self.traced = {table: {c.lower() for c in cols} for table, cols in traced.items()}
        self.names = frozenset(tagged_names)

    def of(self, table: str, columns: Iterable[str]) -> list[str]:
        """The PII columns among ``columns`` of ``table`` (in their order)."""
        traced = self.traced.get(table, set())
        return [
            c
            for c in columns
            if c.lower() in traced or snake(c) in self.names or FREE_TEXT.search(snake(c))
        ]


def trace(catalog: Catalog, project: Project) -> PiiColumns:
    """PII columns from the contracts' tags, followed through every model by lineage.

    A table whose current metadata cannot be read (a query of it fails on its own) is
    traced with the schema of its last readable metadata, or left out when it has none:
    every other table stays readable, its PII traced as before."""
    from shoplake.lake.catalog import list_tables
    from shoplake.lake.integrity import CorruptTableError, last_readable_schema

    schema: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for name in list_tables(catalog):
        namespace, table = name.split(".")
        try:
            fields = catalog.load_table(name).schema().fields
        except CorruptTableError as exc:
            earlier = last_readable_schema(exc)
            log.warning(
                "PII lineage %s: %s",
                "from its last readable schema" if earlier else "without it",
                exc,
            )
            if earlier is None:
                continue
            fields = earlier.fields
        schema[namespace][table] = {f.name: "VARCHAR" for f in fields}
    pii: dict[str, set[str]] = defaultdict(set)
    for target, model in project.models.items():
        pii[target] |= {c.lower() for c in model.pii_columns}
    sources: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for target in project.order:  # upstream first, so downstream tagging sees it all
        sources[target] = _column_sources(project.models[target].sql, schema)
        for column, leaves in sources[target].items():
            if any(c in pii[t] for t, c in leaves):
                pii[target].add(column)
    for target in reversed(project.order):  # from tagged columns up to their sources
        for column, leaves in sources[target].items():
            if column in pii[target]:
                for table, source_column in leaves:
                    pii[table].add(source_column)
    tagged = {c for cols in pii.values() for c in cols}
    return PiiColumns(pii, {snake(c) for c in tagged})


def _column_sources(sql: str, schema: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Per output column of a model: the (table, column) pairs it is computed from."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage

    try:
        nodes = lineage(None, sql, schema=schema, dialect="duckdb")
    except (SqlglotError, ValueError, KeyError) as exc:
        log.warning("PII lineage unavailable for a model (%s); names alone decide", exc)
        return {}
    assert isinstance(nodes, dict)
    result: dict[str, set[tuple[str, str]]] = {}
    for column, node in nodes.items():
        leaves = set()
        for step in node.walk():
            source = step.expression
            if isinstance(source, exp.Table) and source.db:
                leaves.add((f"{source.db}.{source.name}".lower(), step.name.split(".")[-1]))
        result[column.lower()] = leaves
    return result


def masking(
    pii: PiiColumns, mask: Callable[[pa.Table, list[str]], pa.Table], masked: list[str]
) -> Callable[[str, pa.Table], pa.Table]:
    """What a query engine may see of each table for a caller who may not read PII: its PII
    columns masked (each appended to ``masked`` as ``table.column``). The API's ``/query`` and
    ``shoplake query --role analyst`` both read through it."""

    def prepare(name: str, data: pa.Table) -> pa.Table:
        columns = pii.of(name, data.column_names)
        masked.extend(f"{name}.{column}" for column in columns)
        return mask(data, columns)

    return prepare


def masker(key: bytes | None = None) -> Any:
    """A function masking given columns of an Arrow table with one keyed hash."""
    secret = key or secrets.token_bytes(32)

    def mask(table: pa.Table, columns: Iterable[str]) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        for name in columns:
            position = table.schema.get_field_index(name)
            if position < 0:
                continue
            column = table.column(name)
            unique = pc.unique(column).to_pylist()
            hashed = [v if v is None or v == "" else _hash(secret, v) for v in unique]
            indices = pc.index_in(column, value_set=pa.array(unique, type=column.type))
            values = pc.take(pa.array(hashed, type=pa.string()), indices)
            table = table.set_column(position, pa.field(name, pa.string()), values)
        return table

    return mask


def _hash(secret: bytes, value: Any) -> str:
    digest = hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()
    return MASK_PREFIX + digest[:10]
