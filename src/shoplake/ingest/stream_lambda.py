"""The stream processor as an AWS Lambda on the Kinesis stream (the ``aws`` profile).

Lambda hands the function a batch of Kinesis records; :class:`KinesisBatchLog` serves that
batch through the same :class:`~shoplake.streams.base.EventLog` interface the Kinesis backend
implements (shard index from the shard id, sequence numbers as positions), and the batch is
processed by the same :func:`~shoplake.ingest.stream_workers.process_log` the local
``shoplake stream process`` runs: validation, dead letters, de-duplication, Iceberg commits
that carry the shard positions, session state and live recommendations. Positions are those
the Kinesis backend uses, so a batch Lambda retries after a failure is skipped where it was
already committed — exactly once, as locally.

Settings come from the environment (``SHOPLAKE_PROFILE=aws``, ``SHOPLAKE_AWS__BUCKET``…);
the data dir defaults to ``/tmp/shoplake`` (the only writable place in Lambda).
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from shoplake.streams.base import Record, StreamError
from shoplake.streams.kinesis import compare_sequence_numbers, sequence_sort_key

LAMBDA_DATA_DIR = "/tmp/shoplake"  # Lambda's only writable place
_SHARD_ID = re.compile(r"shardId-(\d+)")
#: The custom metric infra/aws alarms on: minutes between the newest record's arrival on the
#: stream and its commit to bronze. No invocations, no data points: the alarm treats that as
#: stale too.
FRESHNESS_NAMESPACE = "shoplake"
FRESHNESS_METRIC = "FreshnessMinutes"


def shard_index(shard_id: str) -> int:
    """``shardId-000000000003`` → 3 (shard ids of a stream that was never resharded)."""
    match = _SHARD_ID.fullmatch(shard_id)
    if match is None:
        raise StreamError(f"unexpected Kinesis shard id {shard_id!r}")
    return int(match.group(1))


class KinesisBatchLog:
    """One Lambda batch of Kinesis records as a read-only event log."""

    def __init__(self, records: Sequence[dict[str, Any]], shards: int) -> None:
        by_shard: dict[int, list[Record]] = defaultdict(list)
        for item in records:
            shard_id = str(item["eventID"]).split(":", 1)[0]
            kinesis = item["kinesis"]
            shard = shard_index(shard_id)
            if shard >= shards:
                raise StreamError(
                    f"record from {shard_id} but stream.shards is {shards}: set "
                    "SHOPLAKE_STREAM__SHARDS to the stream's shard count"
                )
            payload = base64.b64decode(kinesis["data"])
            by_shard[shard].append(Record(shard, str(kinesis["sequenceNumber"]), payload))
        for shard_records in by_shard.values():
            shard_records.sort(key=lambda r: int(r.position))
        self.shards = shards
        self.present = sorted(by_shard)
        self._records = dict(by_shard)

    def produce(self, payloads: Sequence[bytes], keys: Sequence[str]) -> None:
        raise StreamError("a Lambda batch is read-only")

    def read(
        self, shard: int, after: str | None, max_count: int, block_ms: int = 0
    ) -> list[Record]:
        records = self._records.get(shard, [])
        if after is not None:
            records = [r for r in records if int(r.position) > int(after)]
        return records[:max_count]

    def trim(self, shard: int, upto: str) -> None:
        """Kinesis expires records by retention; nothing to do."""

    def lag(self, shard: int, after: str | None) -> int:
        return len(self.read(shard, after, 1 << 30))

    def compare(self, a: str, b: str) -> int:
        return compare_sequence_numbers(a, b)

    def sort_key(self, position: str) -> str:
        return sequence_sort_key(position)

    def close(self) -> None:
        """Nothing to release."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: process one batch of Kinesis records exactly once."""
    from shoplake.config import load_settings
    from shoplake.ingest.stream_workers import process_log
    from shoplake.lake.catalog import open_catalog

    os.environ.setdefault("SHOPLAKE_DATA_DIR", LAMBDA_DATA_DIR)
    os.environ.setdefault("SHOPLAKE_PROFILE", "aws")
    settings = load_settings()
    if settings.stream.backend != "kinesis":
        raise StreamError("the stream Lambda reads Kinesis: set SHOPLAKE_STREAM__BACKEND=kinesis")
    if settings.stream.url is None:
        raise StreamError(
            "the stream Lambda needs the online store: set SHOPLAKE_STREAM__URL to the Redis "
            "(ElastiCache) URL"
        )
    records = event.get("Records", [])
    log = KinesisBatchLog(records, settings.stream.shards)
    stats = process_log(settings, open_catalog(settings), log, log.present, until_idle=True)
    freshness = freshness_minutes(records, time.time())
    if freshness is not None:
        publish_freshness(settings, freshness)
    return {
        "records": len(records),
        "events": stats.valid,
        "dead_letters": stats.invalid,
        "duplicates": stats.duplicates,
        "commits": stats.commits,
        "freshness_minutes": freshness,
    }


def freshness_minutes(records: Sequence[dict[str, Any]], now: float) -> float | None:
    """Minutes from the newest record's arrival on the stream to ``now`` (None: no records)."""
    arrivals = [
        float(r["kinesis"]["approximateArrivalTimestamp"])
        for r in records
        if "approximateArrivalTimestamp" in r.get("kinesis", {})
    ]
    return max(0.0, (now - max(arrivals)) / 60.0) if arrivals else None


def publish_freshness(settings: Any, minutes: float) -> None:
    """Put one ``shoplake/FreshnessMinutes`` data point (CloudWatch, the profile's endpoint)."""
    import boto3

    cloudwatch = boto3.client(
        "cloudwatch", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url
    )
    cloudwatch.put_metric_data(
        Namespace=FRESHNESS_NAMESPACE,
        MetricData=[{"MetricName": FRESHNESS_METRIC, "Value": minutes, "Unit": "None"}],
    )
