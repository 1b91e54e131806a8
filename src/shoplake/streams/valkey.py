"""Valkey Streams backend: shard ``i`` is the stream ``<prefix>:i``; positions are entry ids.

Produce is pipelined XADD (one round trip per few thousand entries); read is XREAD from the
exclusive position (``0-0`` for the oldest kept); trim is an exact ``XTRIM MINID`` just above
the committed position. Transient connection errors are retried with backoff; a retried produce
pipeline may append an entry twice (at-least-once), which consumers de-duplicate by event id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from shoplake.streams.base import (
    Record,
    StreamConfig,
    StreamError,
    check_batch,
    shard_for,
    sign,
)

PAYLOAD_FIELD = b"payload"
PIPELINE_CHUNK = 2000
RETRIES = 5
COUNT_CHUNK = 10_000
NOT_RUNNING = "valkey is not running — start it with `shoplake up`"

T = TypeVar("T")


def parse_id(position: str) -> tuple[int, int]:
    """``"ms-seq"`` → ``(ms, seq)`` (a bare ``"ms"`` means sequence 0)."""
    ms, _, seq = position.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError as exc:
        raise StreamError(f"not a valkey stream position: {position!r}") from exc


def next_id(position: str) -> str:
    """The smallest entry id strictly after ``position``."""
    ms, seq = parse_id(position)
    return f"{ms}-{seq + 1}"


class ValkeyEventLog:
    """An event log of ``shards`` Valkey streams on one server."""

    def __init__(self, url: str, shards: int, prefix: str = "events") -> None:
        import valkey

        self.url = url
        self.shards = shards
        self.prefix = prefix
        self._errors: tuple[type[Exception], ...] = (
            valkey.ConnectionError,
            valkey.TimeoutError,
            valkey.BusyLoadingError,
        )
        self.client: Any = valkey.Valkey.from_url(url, socket_timeout=30, socket_connect_timeout=5)

    @classmethod
    def from_settings(cls, settings: Any, *, start: bool = True) -> ValkeyEventLog:
        """The log the settings describe; by default the local valkey, started if needed
        (``start=False``: a :class:`StreamError` saying how to start it when it is down)."""
        config = StreamConfig.from_settings(settings)
        url = config.url
        if url is None:
            url = _local_url(settings, start)
        return cls(url, config.shards, config.prefix)

    def key(self, shard: int) -> str:
        if not 0 <= shard < self.shards:
            raise StreamError(f"no shard {shard}: the log has shards 0..{self.shards - 1}")
        return f"{self.prefix}:{shard}"

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(RETRIES):
            try:
                return call()
            except self._errors as exc:
                if attempt == RETRIES - 1:
                    raise StreamError(f"valkey {what} failed at {self._safe_url()}: {exc}") from exc
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _safe_url(self) -> str:
        from shoplake.redact import redact

        return redact(self.url)

    def produce(self, payloads: Sequence[bytes], keys: Sequence[str]) -> None:
        check_batch(payloads, keys)
        names = [self.key(shard_for(key, self.shards)) for key in keys]
        for start in range(0, len(payloads), PIPELINE_CHUNK):
            stop = start + PIPELINE_CHUNK
            chunk = list(zip(names[start:stop], payloads[start:stop], strict=True))
            self._retry("produce", partial(self._xadd, chunk))

    def _xadd(self, chunk: list[tuple[str, bytes]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name, payload in chunk:
            pipe.xadd(name, {PAYLOAD_FIELD: payload})
        pipe.execute()

    def read(
        self, shard: int, after: str | None, max_count: int, block_ms: int = 0
    ) -> list[Record]:
        name = self.key(shard)
        start = after or "0-0"
        reply = self._retry(
            "read",
            lambda: self.client.xread(
                {name: start}, count=max_count, block=block_ms if block_ms > 0 else None
            ),
        )
        if not reply:
            return []
        entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        return [
            Record(shard, _text(entry_id), fields[PAYLOAD_FIELD]) for entry_id, fields in entries
        ]

    def trim(self, shard: int, upto: str) -> None:
        name = self.key(shard)
        minid = next_id(upto)
        self._retry("trim", lambda: self.client.xtrim(name, minid=minid, approximate=False))

    def lag(self, shard: int, after: str | None) -> int:
        name = self.key(shard)
        total = int(self._retry("lag", lambda: self.client.xlen(name)))
        if after is None or total == 0:
            return total
        return total - self._count_upto(name, after)

    def _count_upto(self, name: str, upto: str) -> int:
        """Entries still kept at or before ``upto`` (read and committed, not yet trimmed)."""
        counted, start = 0, "-"
        while True:
            batch = self._retry(
                "lag", partial(self.client.xrange, name, start, upto, count=COUNT_CHUNK)
            )
            counted += len(batch)
            if len(batch) < COUNT_CHUNK:
                return counted
            start = "(" + _text(batch[-1][0])

    def compare(self, a: str, b: str) -> int:
        pa, pb = parse_id(a), parse_id(b)
        return sign((pa > pb) - (pa < pb))

    def sort_key(self, position: str) -> str:
        ms, seq = parse_id(position)
        return f"{ms:020d}-{seq:020d}"

    def delete(self) -> None:
        """Remove every shard's stream (tests, resets)."""
        names = [self.key(i) for i in range(self.shards)]
        self._retry("delete", lambda: self.client.delete(*names))

    def close(self) -> None:
        self.client.close()


def _local_url(settings: Any, start: bool) -> str:
    """URL of the data dir's valkey: started when ``start``, else required to be running."""
    from shoplake import services

    if start:
        return services.ensure_valkey(settings).url
    status = services.valkey_status(settings)
    if not status.healthy:
        raise StreamError(NOT_RUNNING)
    return status.url


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
