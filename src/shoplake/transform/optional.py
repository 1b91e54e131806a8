"""Sources a model may do without: what stands in for them and the notes a run reports.

A model lists in ``optional_sources`` the bronze tables of source tables the source may lack
(the public ClassicModels dump has no ``ratings``; a MySQL copy of it has no such table at all).
When such a table does not exist, the model reads an empty table of the declared columns plus
bronze's bookkeeping columns, so it is built (empty) and every model downstream runs too. A
model whose result is empty because an optional source is is published with a note, not failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from shoplake.lake.sqlnames import quote_identifier as q
from shoplake.transform.engines.duckdb import (
    RUN_SCHEMA,
    Exposed,
    expose_relation,
    quoted,
    run_relation,
)

if TYPE_CHECKING:
    import duckdb

#: Recorded as a source's snapshot when the model was built while that table had no snapshot
#: (absent, or created but never written): the model is up to date until the table gets one.
NO_SNAPSHOT: Final = -1

#: Bronze's bookkeeping columns (see ``shoplake.ingest.bronze``) with their DuckDB types.
BRONZE_COLUMNS: Final[dict[str, str]] = {
    "_op": "VARCHAR",
    "_ingested_at": "TIMESTAMPTZ",
    "_batch_id": "BIGINT",
}


def expose_stand_in(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str]) -> Exposed:
    """Make ``name`` readable in ``con`` as an empty table of ``columns`` (name -> DuckDB
    type) and bronze's bookkeeping columns; it is the run relation of ``name`` as well."""
    typed = {**columns, **BRONZE_COLUMNS}
    select = ", ".join(f"CAST(NULL AS {kind}) AS {q(column)}" for column, kind in typed.items())
    relation = run_relation(name)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(RUN_SCHEMA)}")
    con.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT {select} LIMIT 0")
    expose_relation(con, name, relation)
    return Exposed(name, None, 0, 0, None)


def absent_note(names: list[str]) -> str:
    """The note of a model built from stand-ins of absent optional sources."""
    listed = ", ".join(names)
    return f"{listed} does not exist (an optional source): built from an empty stand-in"


def empty_note(names: list[str]) -> str:
    """The note of a model that came out empty because optional sources are empty."""
    return f"no rows: the optional source {', '.join(names)} has none"
