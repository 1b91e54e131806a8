"""Amazon Kinesis backend (boto3; any Kinesis-compatible endpoint such as moto's server).

The stream is created with N shards when missing. Its open shards, ordered by shard id, are
indices 0..N-1; a record goes to shard :func:`shard_for` (key) by setting its explicit hash key
to that shard's first hash key, so both backends place a key on the same shard index. Positions
are sequence numbers (compared as integers). Produce is ``put_records`` in chunks of ≤ 500
records / 5 MiB; failed records are re-sent with backoff (Kinesis may then reorder a retried
record after a later one of the same key — consumers order by event time). API calls use
botocore's standard retry mode for throttling and connection errors. Kinesis expires records by
retention, so ``trim`` is a no-op; ``lag`` counts by scanning up to a limit, else -1.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from shoplake.streams.base import Record, StreamConfig, StreamError, check_batch, shard_for, sign

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_GET_RECORDS = 10_000
PUT_RETRIES = 8
ITERATOR_TTL = 240.0  # shard iterators expire after 5 minutes
LAG_SCAN_LIMIT = 100_000
ACTIVE_TIMEOUT = 120.0
BLOCK_POLL = 0.2


class KinesisEventLog:
    """An event log on one Kinesis stream."""

    def __init__(
        self,
        stream: str,
        shards: int,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        self.stream = stream
        self.client = client or _client(region, endpoint_url)
        self._shard_ids: list[str] = []
        self._hash_keys: list[str] = []
        self._iterators: dict[int, tuple[str | None, str, float]] = {}
        self._call("open", self._open, shards)
        self.shards = len(self._shard_ids)

    @classmethod
    def from_settings(cls, settings: Any, *, start: bool = True) -> KinesisEventLog:
        """The stream the settings name (``start`` is for local logs: Kinesis is remote)."""
        config = StreamConfig.from_settings(settings)
        return cls(
            config.kinesis_stream,
            config.shards,
            region=config.region,
            endpoint_url=config.kinesis_endpoint,
        )

    # Setup ----------------------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one API step; botocore errors become a one-line :class:`StreamError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StreamError(
                f"kinesis {what} on stream {self.stream!r} failed: {message}"
            ) from exc

    def _open(self, shards: int) -> None:
        errors = self.client.exceptions
        try:
            status = self._status()
        except errors.ResourceNotFoundException:
            with contextlib.suppress(errors.ResourceInUseException):  # created concurrently
                self.client.create_stream(StreamName=self.stream, ShardCount=shards)
            status = self._status()
        deadline = time.monotonic() + ACTIVE_TIMEOUT
        while status != "ACTIVE":
            if time.monotonic() > deadline:
                raise StreamError(
                    f"kinesis stream {self.stream!r} not ACTIVE after {ACTIVE_TIMEOUT}s"
                )
            time.sleep(0.2)
            status = self._status()
        listed: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream}
        while True:
            page = self.client.list_shards(**kwargs)
            listed.extend(page["Shards"])
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {"NextToken": token}
        open_shards = sorted(
            (s for s in listed if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
            key=lambda s: s["ShardId"],
        )
        self._shard_ids = [s["ShardId"] for s in open_shards]
        self._hash_keys = [s["HashKeyRange"]["StartingHashKey"] for s in open_shards]

    def _status(self) -> str:
        summary = self.client.describe_stream_summary(StreamName=self.stream)
        return str(summary["StreamDescriptionSummary"]["StreamStatus"])

    def _shard_id(self, shard: int) -> str:
        if not 0 <= shard < self.shards:
            raise StreamError(f"no shard {shard}: the log has shards 0..{self.shards - 1}")
        return self._shard_ids[shard]

    # Produce --------------------------------------------------------------------------------

    def produce(self, payloads: Sequence[bytes], keys: Sequence[str]) -> None:
        check_batch(payloads, keys)
        batch: list[dict[str, Any]] = []
        size = 0
        for payload, key in zip(payloads, keys, strict=True):
            entry = {
                "Data": payload,
                "PartitionKey": key[:256] or "-",
                "ExplicitHashKey": self._hash_keys[shard_for(key, self.shards)],
            }
            entry_size = len(payload) + len(entry["PartitionKey"])
            if batch and (len(batch) == MAX_BATCH_RECORDS or size + entry_size > MAX_BATCH_BYTES):
                self._put(batch)
                batch, size = [], 0
            batch.append(entry)
            size += entry_size
        if batch:
            self._put(batch)

    def _put(self, entries: list[dict[str, Any]]) -> None:
        """``put_records`` one chunk, re-sending failed records with exponential backoff."""
        codes: set[str] = set()
        for attempt in range(PUT_RETRIES):
            reply = self._call(
                "put_records", self.client.put_records, StreamName=self.stream, Records=entries
            )
            if not reply.get("FailedRecordCount"):
                return
            results = reply["Records"]
            failed = [e for e, r in zip(entries, results, strict=True) if "ErrorCode" in r]
            codes = {r["ErrorCode"] for r in results if "ErrorCode" in r}
            entries = failed
            if attempt < PUT_RETRIES - 1:
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise StreamError(
            f"kinesis put_records on stream {self.stream!r}: {len(entries)} records still "
            f"failing after {PUT_RETRIES} tries ({', '.join(sorted(codes))})"
        )

    # Read -----------------------------------------------------------------------------------

    def _iterator(self, shard: int, after: str | None, *, cached: bool = True) -> str:
        hit = self._iterators.get(shard) if cached else None
        if hit is not None and hit[0] == after and time.monotonic() - hit[2] < ITERATOR_TTL:
            return hit[1]
        kwargs: dict[str, Any] = {"StreamName": self.stream, "ShardId": self._shard_id(shard)}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["StartingSequenceNumber"] = after
        reply = self._call("get_shard_iterator", self.client.get_shard_iterator, **kwargs)
        return str(reply["ShardIterator"])

    def _page(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One ``get_records`` call: records, the next iterator, and whether it is at the tip."""
        reply = self._call(
            "get_records", self.client.get_records, ShardIterator=iterator, Limit=limit
        )
        records = reply["Records"]
        at_tip = len(records) < limit and not reply.get("MillisBehindLatest")
        return records, reply.get("NextShardIterator"), at_tip

    def read(
        self, shard: int, after: str | None, max_count: int, block_ms: int = 0
    ) -> list[Record]:
        deadline = time.monotonic() + block_ms / 1000
        iterator: str | None = self._iterator(shard, after)
        out: list[Record] = []
        while iterator is not None and len(out) < max_count:
            limit = min(MAX_GET_RECORDS, max_count - len(out))
            try:
                records, iterator, at_tip = self._page(iterator, limit)
            except StreamError as exc:
                if "ExpiredIterator" not in str(exc):
                    raise
                last = out[-1].position if out else after
                iterator = self._iterator(shard, last, cached=False)
                continue
            out.extend(Record(shard, r["SequenceNumber"], bytes(r["Data"])) for r in records)
            if at_tip:
                if out or time.monotonic() >= deadline:
                    break
                time.sleep(BLOCK_POLL)
        last = out[-1].position if out else after
        if iterator is not None:
            self._iterators[shard] = (last, iterator, time.monotonic())
        else:  # the shard was closed (resharded) and fully read
            self._iterators.pop(shard, None)
        return out

    def trim(self, shard: int, upto: str) -> None:
        self._shard_id(shard)  # Kinesis expires records by retention period

    def lag(self, shard: int, after: str | None) -> int:
        iterator: str | None = self._iterator(shard, after, cached=False)
        counted = 0
        while iterator is not None and counted < LAG_SCAN_LIMIT:
            records, iterator, at_tip = self._page(iterator, MAX_GET_RECORDS)
            counted += len(records)
            if at_tip:
                return counted
        return -1 if iterator is not None else counted

    def compare(self, a: str, b: str) -> int:
        return compare_sequence_numbers(a, b)

    def sort_key(self, position: str) -> str:
        return sequence_sort_key(position)

    def delete(self) -> None:
        """Delete the stream (tests, resets)."""
        self._call("delete_stream", self.client.delete_stream, StreamName=self.stream)

    def close(self) -> None:
        self.client.close()


def _client(region: str, endpoint_url: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise StreamError("the kinesis backend needs boto3: pip install 'shoplake[aws]'") from exc
    config = Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5)
    return boto3.client(
        "kinesis", region_name=region, endpoint_url=endpoint_url or None, config=config
    )


def compare_sequence_numbers(a: str, b: str) -> int:
    """-1, 0 or 1 as Kinesis sequence number ``a`` is before, equal to or after ``b``."""
    try:
        return sign(int(a) - int(b))
    except ValueError as exc:
        raise StreamError(f"not a kinesis sequence number: {a!r} or {b!r}") from exc


def sequence_sort_key(position: str) -> str:
    """A fixed-width form of a sequence number that sorts as the numbers compare."""
    return position.zfill(64)
