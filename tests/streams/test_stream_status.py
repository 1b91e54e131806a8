"""`stream status` reads the lakehouse side without starting anything, also after compaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shoplake.ingest.stream_sink import EVENTS_TABLE, Batch, commit, open_sink_table
from shoplake.ingest.stream_sink import with_stream_meta as with_meta
from shoplake.platform import Platform
from shoplake.services import free_port
from shoplake.streams.events import (
    EVENTS_SCHEMA,
    Event,
    encode,
    events_to_arrow,
    page_view,
    validate,
)

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
NOT_RUNNING = "valkey is not running — start it with `shoplake up`"


def _events(first: int, count: int) -> list[Event]:
    parsed = [
        validate(
            encode(page_view(f"e{i}", START + dt.timedelta(seconds=i), f"s{i % 3}", "S10_1678")),
            known_products=None,
            now=START,
        )
        for i in range(first, first + count)
    ]
    assert all(isinstance(event, Event) for event in parsed)
    return [event for event in parsed if isinstance(event, Event)]


@pytest.fixture
def shop(tmp_path: Path) -> Platform:
    """A lakehouse whose bronze.events got three commits on shards 0 and 1; no valkey runs."""
    platform = Platform(data_dir=tmp_path / "shop", **{"services.valkey_port": free_port()})
    table = open_sink_table(platform.catalog, EVENTS_TABLE, EVENTS_SCHEMA)
    for n, (first, count) in enumerate([(0, 4), (4, 3), (7, 5)], start=1):
        rows = events_to_arrow(_events(first, count))
        shards = [i % 2 for i in range(count)]
        positions = [f"{n}-{i}" for i in range(count)]
        batch = Batch(with_meta(rows, shards, positions, START), {0: f"{n}-8", 1: f"{n}-9"})
        commit(table, batch, "valkey", "test")
    return platform


def test_status_without_the_log_reports_the_lakehouse_and_starts_nothing(shop: Platform) -> None:
    status = shop.stream_status()
    assert (status.log, status.note, status.events, status.dead_letters) == (
        "down", NOT_RUNNING, 12, 0,
    )  # fmt: skip
    assert [(s["shard"], s["events_position"], s["lag"]) for s in status.shards] == [
        (0, "3-8", None), (1, "3-9", None), (2, None, None), (3, None, None),
    ]  # fmt: skip
    assert status.last_commit is not None
    assert not shop.services()[0].running
    assert not (shop.settings.data_dir / "valkey" / "valkey.pid").exists()


def test_status_of_a_compacted_table_is_unchanged(shop: Platform) -> None:
    before = shop.stream_status().as_dict()
    (result,) = shop.maintain([EVENTS_TABLE])
    assert (result.files_before, result.files_after) == (3, 1)
    table = shop.catalog.load_table(EVENTS_TABLE)
    assert table.current_snapshot().summary.operation.value == "replace"
    assert shop.stream_status().as_dict() == before

    # The same once the commits before the compaction have expired.
    shop.settings.lake.snapshot_retention_hours = 0
    shop.settings.lake.min_snapshots_to_keep = 1
    shop.maintain([EVENTS_TABLE])
    assert len(shop.catalog.load_table(EVENTS_TABLE).snapshots()) == 1
    after = shop.stream_status().as_dict()
    assert after == before | {"events_per_second": 0.0}  # no commit history left to rate
