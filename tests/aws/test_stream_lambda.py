"""The stream processor as a Lambda: a Kinesis batch handed to the handler lands in bronze
exactly as `shoplake stream process` lands it, and a retried batch lands nothing twice."""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoplake.config import settings_environment
from shoplake.ingest.stream_lambda import freshness_minutes, handler, shard_index
from shoplake.platform import Platform
from shoplake.services import free_port
from tests.support.aws import create_bucket, moto_endpoint
from tests.support.streams import generate_source, local_valkey

SHARDS = 2


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_source(tmp_path_factory.mktemp("source"))


def _shop(
    moto: str,
    source: Path,
    data_dir: Path,
    stream: str,
    valkey_port: int,
    region: str = "us-east-1",
) -> Platform:
    """An aws-profile lakehouse of its own bucket, with the generated source ingested (the
    processor checks events' product codes against it)."""
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    create_bucket(moto, bucket, region=region)
    data_dir.mkdir(parents=True)
    shutil.copy(source / "source.db", data_dir / "source.db")
    shop = Platform(
        data_dir=data_dir,
        profile="aws",
        **{
            "aws.endpoint_url": moto,
            "aws.bucket": bucket,
            "aws.region": region,
            "stream.region": "us-east-1",  # the one stream both read
            "stream.kinesis_stream": stream,
            "stream.shards": SHARDS,
            "stream.url": f"redis://127.0.0.1:{valkey_port}/2",
            "services.valkey_port": valkey_port,
            "vectors.backend": "faiss",
        },
    )
    assert shop.ingest(["products"]).ok
    return shop


def _lambda_records(moto: str, stream: str) -> list[dict[str, Any]]:
    """Every record of the stream in the shape Lambda's Kinesis trigger delivers."""
    import boto3

    kinesis = boto3.client("kinesis", endpoint_url=moto, region_name="us-east-1")
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]:
            records.append(
                {
                    "eventID": f"{shard['ShardId']}:{record['SequenceNumber']}",
                    "eventSource": "aws:kinesis",
                    "kinesis": {
                        "data": base64.b64encode(record["Data"]).decode(),
                        "sequenceNumber": record["SequenceNumber"],
                        "partitionKey": record["PartitionKey"],
                        "approximateArrivalTimestamp": record[
                            "ApproximateArrivalTimestamp"
                        ].timestamp(),
                    },
                }
            )
    return records


def _landed(shop: Platform) -> tuple[list[Any], list[Any]]:
    events = shop.query("SELECT event_id FROM bronze.events ORDER BY 1").table
    dead = shop.query("SELECT reason FROM bronze.dead_letters ORDER BY 1").table
    return events.column(0).to_pylist(), dead.column(0).to_pylist()


def test_a_lambda_batch_lands_like_the_processor_and_retries_land_once(
    moto: str,
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = f"events-{uuid.uuid4().hex[:8]}"
    port = free_port()
    reference = _shop(moto, source, tmp_path / "processor", stream, port)
    # Glue databases are per account and region: the Lambda's lakehouse lives in another region.
    function = _shop(moto, source, tmp_path / "lambda", stream, port, region="us-west-2")
    with local_valkey(reference.settings):
        reference.produce(events=400, bad_rate=0.03, seed=3)
        processed = reference.process(until_idle=True)
        records = _lambda_records(moto, stream)
        assert len(records) == processed.read

        for name, value in settings_environment(function.settings).items():
            monkeypatch.setenv(name, value)
        half = records[: len(records) // 2]
        first = handler({"Records": half})
        assert first["records"] == len(half)
        retried = handler({"Records": records})  # Lambda retries the batch, then more
        assert retried["records"] == len(records)
        again = handler({"Records": records})

    assert first["events"] + retried["events"] == processed.valid
    assert first["dead_letters"] + retried["dead_letters"] == processed.invalid
    assert (again["events"], again["dead_letters"], again["commits"]) == (0, 0, 0)
    assert _landed(function) == _landed(reference)
    # Each invocation put the freshness metric the infra's alarm watches.
    import boto3

    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto, region_name="us-west-2")
    metrics = cloudwatch.list_metrics(Namespace="shoplake")["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"FreshnessMinutes"}
    assert 0 <= first["freshness_minutes"] < 10


def test_freshness_is_minutes_since_the_newest_arrival() -> None:
    records = [
        {"kinesis": {"approximateArrivalTimestamp": 1_000.0}},
        {"kinesis": {"approximateArrivalTimestamp": 1_060.0}},
    ]
    assert freshness_minutes(records, now=1_180.0) == 2.0
    assert freshness_minutes([], now=1_180.0) is None


def test_shard_ids_map_to_the_kinesis_backends_indices() -> None:
    assert shard_index("shardId-000000000003") == 3
    with pytest.raises(Exception, match="unexpected Kinesis shard id 'shard-3'"):
        shard_index("shard-3")


def test_the_handler_needs_the_online_store_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPLAKE_PROFILE", "aws")
    monkeypatch.delenv("SHOPLAKE_STREAM__URL", raising=False)
    monkeypatch.delenv("SHOPLAKE_STREAM", raising=False)
    with pytest.raises(Exception, match="set SHOPLAKE_STREAM__URL to the Redis"):
        handler({"Records": []})
