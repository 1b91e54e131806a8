"""Replace is atomic: a killed or failed replace leaves the previous index readable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import shoplake.vectors.pgvector as pgvector_module
from shoplake.sourcedb import libpq_uri
from shoplake.vectors import VectorError, open_vector_index
from tests.vectors.conftest import faiss_settings, pgvector_settings, random_embeddings

CRASH = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from shoplake.vectors.faiss_index import FaissIndex

    real_replace = os.replace
    def replace(src, dst):
        if str(dst).endswith(sys.argv[2]):
            os._exit(9)  # the process dies here, no cleanup of any kind
        real_replace(src, dst)
    os.replace = replace
    FaissIndex(sys.argv[1], "items").replace(["x", "y"], np.eye(2))
    """
)


@pytest.mark.parametrize("dies_before", [".faiss", ".ids.json"])
def test_faiss_killed_replace_keeps_old_index(tmp_path: Path, dies_before: str) -> None:
    settings = faiss_settings(tmp_path)
    ids, vectors = random_embeddings(300, 8, seed=1)
    with open_vector_index(settings, "items") as index:
        index.replace(ids, vectors)
        before = index.search(vectors[:20], 5)
        before_ids = index.search_ids(ids[:20], 5)
    directory = settings.vectors_dir

    crash = [sys.executable, "-c", CRASH, str(directory), dies_before]
    assert subprocess.run(crash, check=False, timeout=120).returncode == 9
    left = sorted(p.name for p in directory.iterdir())
    assert any(name.endswith(".tmp") for name in left), left  # it died mid-replace

    with open_vector_index(settings, "items") as reopened:
        assert (len(reopened), reopened.dimension) == (300, 8)
        assert reopened.search(vectors[:20], 5) == before
        assert reopened.search_ids(ids[:20], 5) == before_ids
        # the next replace succeeds and removes what the killed one left behind
        reopened.replace(["x", "y"], np.eye(2))
        assert [n.id for n in reopened.search(np.array([[1.0, 0.1]]), 2)[0]] == ["x", "y"]
    names = sorted(p.name for p in directory.iterdir())
    assert len(names) == 3
    assert names[0].startswith("items.") and names[0].endswith(".faiss")
    assert names[1:] == ["items.ids.json", "items.lock"]


def test_faiss_corrupt_file_is_reported(tmp_path: Path) -> None:
    settings = faiss_settings(tmp_path)
    with open_vector_index(settings, "items") as index:
        index.replace(["a", "b"], np.eye(2))
    [data_file] = settings.vectors_dir.glob("items.*.faiss")
    data_file.write_bytes(data_file.read_bytes()[:-4] + b"\0\0\0\0")
    with (
        open_vector_index(settings, "items") as index,
        pytest.raises(VectorError, match=f"{data_file} does not match its checksum"),
    ):
        index.search(np.eye(2), 1)


def _terminate_copy(url: str) -> None:
    """From another session: kill the backend that is running a COPY into the staging table."""
    import psycopg

    with psycopg.connect(libpq_uri(url), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND query LIKE 'COPY shoplake_vectors_items__new%'"
        ).fetchall()
    assert killed == [(True,)]


@pytest.mark.integration
@pytest.mark.parametrize("failure", ["connection killed", "producer raises"])
def test_pgvector_failed_replace_keeps_old_rows(
    tmp_path: Path, fresh_postgres_db: str, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import psycopg

    settings = pgvector_settings(tmp_path, fresh_postgres_db)
    ids, vectors = random_embeddings(300, 8, seed=2)
    new_ids, new_vectors = random_embeddings(500, 16, seed=3)
    with (
        open_vector_index(settings, "items") as index,
        open_vector_index(settings, "items") as reader,
    ):
        index.replace(ids, vectors)
        before = index.search(vectors[:20], 5)

        rows_written = 0
        seen_mid_replace: list[object] = []
        real_literal = pgvector_module.vector_literal

        def literal(row: np.ndarray) -> str:
            nonlocal rows_written
            rows_written += 1
            if rows_written == 250:  # half-way through the new rows
                # another connection, mid-replace, still reads the complete old index
                seen_mid_replace.extend([len(reader), reader.dimension])
                seen_mid_replace.append(reader.search(vectors[:20], 5) == before)
                if failure == "connection killed":
                    _terminate_copy(fresh_postgres_db)
                else:
                    raise RuntimeError("embedding producer failed")
            return real_literal(row)

        monkeypatch.setattr(pgvector_module, "vector_literal", literal)
        if failure == "connection killed":
            with pytest.raises(
                VectorError, match=r"replace \(the previous content is kept\) failed"
            ):
                index.replace(new_ids, new_vectors)
        else:
            with pytest.raises(RuntimeError, match="embedding producer failed"):
                index.replace(new_ids, new_vectors)
        monkeypatch.undo()

        assert seen_mid_replace == [300, 8, True]
        assert rows_written >= 250
        # the same object reconnects if needed, and sees the old rows only
        assert (len(index), index.dimension) == (300, 8)
        assert index.search(vectors[:20], 5) == before
        with psycopg.connect(libpq_uri(fresh_postgres_db)) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'shoplake_vectors%'"
            ).fetchall()
        assert tables == [("shoplake_vectors_items",)]

        # a later replace works and keeps the table's key named after the table
        index.replace(new_ids, new_vectors)
        assert (len(reader), reader.dimension) == (500, 16)
        with psycopg.connect(libpq_uri(fresh_postgres_db)) as conn:
            keys = conn.execute(
                "SELECT conname, conrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'p' AND conname LIKE 'shoplake%'"
            ).fetchall()
        assert keys == [("shoplake_vectors_items_pkey", "shoplake_vectors_items")]
