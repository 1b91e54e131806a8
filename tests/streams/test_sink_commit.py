"""A worker's commit that loses a race to another worker is rebuilt and lands, positions intact.

Regression: with two workers committing every 0.2 s, PyIceberg's own retries ran out and the
worker died with CommitFailedException. The table below has PyIceberg's retries switched off,
so the first conflict reaches shoplake's sink directly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from shoplake.ingest.stream_sink import (
    EVENTS_TABLE,
    Batch,
    commit,
    open_sink_table,
    read_positions,
    with_stream_meta,
)
from shoplake.platform import Platform

PAYLOAD = pa.schema([pa.field("event_id", pa.string())])


def rows(ids: list[str], shard: int) -> pa.Table:
    payload = pa.table({"event_id": ids}, schema=PAYLOAD)
    positions = [f"{shard}-{i}" for i in range(len(ids))]
    return with_stream_meta(payload, [shard] * len(ids), positions, dt.datetime.now(dt.UTC))


def test_a_commit_on_a_stale_table_is_retried_on_the_fresh_one(tmp_path: Path) -> None:
    catalog = Platform(data_dir=tmp_path / "lake").catalog
    table = open_sink_table(catalog, EVENTS_TABLE, PAYLOAD)
    with table.transaction() as tx:
        tx.set_properties({"commit.retry.num-retries": "0"})
    worker_a = catalog.load_table(EVENTS_TABLE)
    worker_b = catalog.load_table(EVENTS_TABLE)

    commit(worker_b, Batch(rows(["b1", "b2"], 1), {1: "1-1"}), "test", "worker-b")
    # worker_a still holds the metadata from before worker_b's commit.
    commit(worker_a, Batch(rows(["a1"], 0), {0: "0-0"}), "test", "worker-a")

    fresh = catalog.load_table(EVENTS_TABLE)
    landed = fresh.scan().to_arrow().column("event_id").to_pylist()
    assert sorted(landed) == ["a1", "b1", "b2"]
    assert read_positions(fresh, "test") == {0: "0-0", 1: "1-1"}
    workers = [s.summary["shoplake.stream.worker"] for s in fresh.snapshots() if s.summary]
    assert workers == ["worker-b", "worker-a"]
