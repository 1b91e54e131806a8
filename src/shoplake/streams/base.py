"""The event-log interface every backend implements, and what the backends share.

A log is N shards (Valkey streams ``<prefix>:0…N-1`` or Kinesis shards). A producer's key (the
session id) picks the shard with :func:`shard_for`, so one session's events stay in order in one
shard. A consumer owns whole shards and reads each from its committed position (exclusive), which
makes positions contiguous: commit the position with the data and a restart resumes exactly there.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from shoplake.errors import ShoplakeError

StreamBackend = Literal["valkey", "kinesis"]

DEFAULT_SHARDS = 4
DEFAULT_PREFIX = "events"
DEFAULT_KINESIS_STREAM = "shoplake-events"
DEFAULT_REGION = "us-east-1"


class StreamError(ShoplakeError):
    """The event log cannot be reached, written or read."""


@dataclass(frozen=True)
class Record:
    """One entry of one shard: its position (entry id / sequence number) and raw payload."""

    shard: int
    position: str
    payload: bytes


@runtime_checkable
class EventLog(Protocol):
    """A sharded, ordered, replayable log of byte payloads."""

    shards: int

    def produce(self, payloads: Sequence[bytes], keys: Sequence[str]) -> None:
        """Append payloads; ``keys[i]`` picks the shard of ``payloads[i]``. Order per key kept."""
        ...

    def read(
        self, shard: int, after: str | None, max_count: int, block_ms: int = 0
    ) -> list[Record]:
        """Up to ``max_count`` records strictly after ``after`` (None: the oldest kept), in order.

        ``block_ms`` > 0 waits up to that long when nothing is there yet.
        """
        ...

    def trim(self, shard: int, upto: str) -> None:
        """Drop records at or before ``upto`` (a no-op where the log expires records itself)."""
        ...

    def lag(self, shard: int, after: str | None) -> int:
        """How many records after ``after`` are still to read (-1 when unknown)."""
        ...

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as position ``a`` of a shard is before, equal to or after ``b``."""
        ...

    def sort_key(self, position: str) -> str:
        """A fixed-width form of a position that sorts as positions compare."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def shard_for(key: str, shards: int) -> int:
    """The shard of a key: CRC-32 of its UTF-8 bytes mod ``shards`` (stable across processes)."""
    return zlib.crc32(key.encode("utf-8")) % shards


def check_batch(payloads: Sequence[bytes], keys: Sequence[str]) -> None:
    if len(payloads) != len(keys):
        raise StreamError(f"produce: {len(payloads)} payloads but {len(keys)} keys")


def sign(value: int) -> int:
    return (value > 0) - (value < 0)


@dataclass(frozen=True)
class StreamConfig:
    """The ``[stream]`` settings the log backends read, with their defaults."""

    backend: str = "valkey"
    url: str | None = None
    prefix: str = DEFAULT_PREFIX
    shards: int = DEFAULT_SHARDS
    kinesis_stream: str = DEFAULT_KINESIS_STREAM
    kinesis_endpoint: str | None = None
    region: str = DEFAULT_REGION

    @classmethod
    def from_settings(cls, settings: Any) -> StreamConfig:
        """Read ``settings.stream`` defensively: absent keys keep their defaults."""
        section = getattr(settings, "stream", None)
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = getattr(section, name, None)
            if value is not None and value != "":
                values[name] = value
        config = cls(**values)
        if config.shards < 1:
            raise StreamError(f"stream.shards must be at least 1, not {config.shards}")
        return config
