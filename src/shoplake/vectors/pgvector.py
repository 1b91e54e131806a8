"""The scale-out vector backend: PostgreSQL + pgvector, through psycopg 3.

One table per index, ``shoplake_vectors_<name>(id text primary key, embedding vector(dim))``,
with no ANN index, so ``ORDER BY embedding <=> query`` is an exact scan. ``replace`` builds a
new table in one transaction and swaps it in by rename: readers keep reading the old table
until the commit, and a failed replace rolls back to it. Final ranking happens in Python, as in
every backend (:mod:`shoplake.vectors.ranking`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.errors import ConfigError
from shoplake.redact import error_message, redact
from shoplake.vectors.base import (
    ClosesOnExit,
    Neighbour,
    VectorError,
    check_k,
    check_name,
    prepare_queries,
    prepare_vectors,
)
from shoplake.vectors.ranking import Candidates, exact_search

if TYPE_CHECKING:
    from shoplake.config import Settings

TABLE_PREFIX = "shoplake_vectors_"
MAX_DIMENSION = 16_000  # pgvector's limit for the vector type
_REPLACE_LOCK = "shoplake_vectors"  # advisory lock serialising replaces in one database

# The cast to real[] sits outside the LIMIT, so only the kept rows pay for it.
_SEARCH_SQL = """
SELECT q.i, t.id, t.distance, t.embedding::real[]
FROM unnest(%s::vector[]) WITH ORDINALITY AS q(v, i)
CROSS JOIN LATERAL (
    SELECT id, embedding <=> q.v AS distance, embedding
    FROM {table}
    ORDER BY embedding <=> q.v, id COLLATE "C"
    LIMIT %s
) AS t
ORDER BY q.i, t.distance, t.id COLLATE "C"
"""


def _backend(url: str, setting: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise ConfigError(f"invalid {setting} {redact(url)!r}: {exc}") from None


def pgvector_url(settings: Settings) -> tuple[str, str]:
    """The PostgreSQL URL of the pgvector backend and the setting it comes from."""
    if settings.vectors.url:
        url, setting = settings.vectors.url, "vectors.url"
    elif settings.source.url and _backend(settings.source.url, "source.url") == "postgresql":
        url, setting = settings.source.url, "source.url"
    else:
        raise ConfigError(
            "vectors.backend 'pgvector' needs a PostgreSQL URL: set vectors.url "
            "(SHOPLAKE_VECTORS__URL); source.url is not PostgreSQL"
        )
    if _backend(url, setting) != "postgresql":
        raise ConfigError(
            f"{setting} must be a PostgreSQL URL for the pgvector backend, got {redact(url)!r}"
        )
    return url, setting


def vector_literal(row: np.ndarray) -> str:
    """pgvector's text form of a float32 row; ``repr`` round-trips every float32 exactly."""
    return "[" + ",".join(map(repr, row.tolist())) + "]"


class PgVectorIndex(ClosesOnExit):
    """A named pgvector table in one database; see the module docstring."""

    def __init__(self, url: str, name: str, *, setting: str = "vectors.url") -> None:
        self.name = check_name(name)
        self.table = TABLE_PREFIX + self.name
        self._staging = self.table + "__new"
        self._url = url
        self._setting = setting
        self._conn: Any = None
        self._closed = False
        self._connection()  # fail now, naming the URL, rather than at first use

    # Where ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"{redact(self._url)} table {self.table}"

    @property
    def _where(self) -> str:
        return f"vector index {self.name!r} ({self.location})"

    def _connection(self) -> Any:
        """The open connection (autocommit), reconnecting after a broken one."""
        if self._closed:
            raise VectorError(f"{self._where}: the index is closed")
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            import psycopg
        except ImportError:
            raise VectorError(
                "the pgvector backend needs psycopg: pip install 'shoplake[postgres]'"
            ) from None
        from shoplake.sourcedb import libpq_uri

        try:
            self._conn = psycopg.connect(libpq_uri(self._url), autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise VectorError(
                f"cannot connect to the pgvector database {redact(self._url)!r} "
                f"({self._setting}): {error_message(exc, url=self._url)}"
            ) from None
        return self._conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into one-line VectorErrors naming the index and the action."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise VectorError(
                f"{self._where}: {action} failed: {error_message(exc, url=self._url)}"
            ) from None

    # Reading ----------------------------------------------------------------------------

    @property
    def dimension(self) -> int | None:
        with self._errors("reading the dimension"):
            row = (
                self._connection()
                .execute(
                    "SELECT atttypmod FROM pg_attribute "
                    "WHERE attrelid = to_regclass(%s) AND attname = 'embedding'",
                    [self.table],
                )
                .fetchone()
            )
        return None if row is None else int(row[0])

    def _require_dimension(self) -> int:
        dimension = self.dimension
        if dimension is None:
            raise VectorError(f"{self._where}: not found; build it with replace() first")
        return dimension

    def __len__(self) -> int:
        if self.dimension is None:
            return 0
        with self._errors("counting rows"):
            row = self._connection().execute(f"SELECT count(*) FROM {self.table}").fetchone()
        return int(row[0])

    def search(self, queries: np.ndarray, k: int) -> list[list[Neighbour]]:
        """Exact cosine top-k of each query row; ranking as in :mod:`.ranking`."""
        dimension = self._require_dimension()
        k = check_k(k, self.name)
        unit = prepare_queries(queries, dimension, self._where)
        return exact_search(unit, k, partial(self._fetch, unit))

    def search_ids(self, ids: Sequence[str], k: int) -> list[list[Neighbour]]:
        """Neighbours of stored vectors, each without its own id."""
        dimension = self._require_dimension()
        k = check_k(k, self.name)
        wanted = list(ids)
        with self._errors("looking up ids"):
            rows = (
                self._connection()
                .execute(
                    f"SELECT id, embedding::real[] FROM {self.table} WHERE id = ANY(%s)",
                    [wanted],
                )
                .fetchall()
            )
        found = {item: vector for item, vector in rows}
        missing = [item for item in wanted if item not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise VectorError(f"{self._where}: unknown id {missing[0]!r}{more}")
        stored = np.array([found[item] for item in wanted], dtype=np.float32)
        unit = prepare_queries(stored.reshape(len(wanted), dimension), dimension, self._where)
        return exact_search(unit, k, partial(self._fetch, unit), exclude=wanted)

    def _fetch(self, unit: np.ndarray, rows: np.ndarray, m: int) -> list[Candidates]:
        """pgvector's own first ``m`` rows for the given query rows, in one statement."""
        queries = unit[rows].astype(np.float32)
        literal = "{" + ",".join(f'"{vector_literal(q)}"' for q in queries) + "}"
        grouped: list[list[tuple[str, float, list[float]]]] = [[] for _ in range(len(rows))]
        with self._errors("search"), self._connection().cursor(binary=True) as cursor:
            cursor.execute(_SEARCH_SQL.format(table=self.table), [literal, m])
            for position, item, distance, vector in cursor:
                grouped[position - 1].append((item, distance, vector))
        dimension = unit.shape[1]
        return [
            Candidates(
                ids=[item for item, _, _ in group],
                vectors=np.array([v for _, _, v in group], dtype=np.float32).reshape(
                    len(group), dimension
                ),
                distances=np.array([d for _, d, _ in group], dtype=np.float64),
                exhausted=len(group) < m,
            )
            for group in grouped
        ]

    # Writing ----------------------------------------------------------------------------

    def replace(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Load a new table and swap it in, all in one transaction."""
        id_list, unit = prepare_vectors(ids, vectors, self._where)
        dimension = unit.shape[1]
        if dimension > MAX_DIMENSION:
            raise VectorError(
                f"{self._where}: pgvector stores at most {MAX_DIMENSION} dimensions, "
                f"got {dimension}"
            )
        conn = self._connection()
        staging, table = self._staging, self.table
        with self._errors("replace (the previous content is kept)"), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_REPLACE_LOCK])
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"DROP TABLE IF EXISTS {staging}")
            conn.execute(
                f"CREATE TABLE {staging} (id text NOT NULL, embedding vector({dimension}))"
            )
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {staging} (id, embedding) FROM STDIN") as copy,
            ):
                for item, row in zip(id_list, unit, strict=True):
                    copy.write_row((item, vector_literal(row)))
            conn.execute(f"ALTER TABLE {staging} ADD CONSTRAINT {staging}_pkey PRIMARY KEY (id)")
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"ALTER TABLE {staging} RENAME TO {table}")
            conn.execute(f"ALTER INDEX {staging}_pkey RENAME TO {table}_pkey")

    # Lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._closed = True

    def __repr__(self) -> str:
        return f"PgVectorIndex({self.name!r}, {self.location!r})"
