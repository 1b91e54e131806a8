"""The S3 warehouse and the Kinesis event log against a real moto server in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoplake.config import load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes
from tests.support.aws import moto_endpoint


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """A moto server (S3 and Kinesis) on 127.0.0.1, with a bucket and a stream, test keys."""
    import boto3

    with moto_endpoint() as endpoint, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        boto3.client("s3").create_bucket(Bucket="lake")
        boto3.client("kinesis").create_stream(StreamName="clicks", ShardCount=2)
        yield endpoint


def _report(tmp_path: Path, endpoint: str, **overrides: Any) -> EndpointReport:
    settings = load_settings(data_dir=tmp_path, **overrides)
    (report,) = diagnose(build_probes(settings, [endpoint]))
    return report


def test_s3_warehouse_is_listed_written_and_cleaned(tmp_path: Path, moto: str) -> None:
    import boto3

    report = _report(tmp_path, "warehouse", **{"lake.warehouse": "s3://lake/prefix"})
    assert report.ok, report.to_dict()
    layers = {r.layer: (r.status, r.detail) for r in report.layers}
    assert layers["auth"] == ("ok", f"access key test… accepted by {moto}")
    assert layers["permission"] == (
        "ok",
        "listed s3://lake/prefix; put and deleted a probe object",
    )
    assert boto3.client("s3").list_objects_v2(Bucket="lake").get("KeyCount") == 0


def test_unknown_bucket(tmp_path: Path, moto: str) -> None:
    report = _report(tmp_path, "warehouse", **{"lake.warehouse": "s3://no-such-bucket/w"})
    assert report.failed_layer == "permission"
    assert report.problem == f"bucket no-such-bucket does not exist at {moto}"
    assert report.fix == "create it (aws s3 mb s3://no-such-bucket) or fix lake.warehouse"


def test_no_credentials(tmp_path: Path, moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    report = _report(tmp_path, "warehouse", **{"lake.warehouse": "s3://lake/w"})
    assert (report.failed_layer, report.problem) == ("auth", "no AWS credentials found")
    assert "AWS_ACCESS_KEY_ID" in (report.fix or "")


def test_kinesis_stream_and_unknown_stream(tmp_path: Path, moto: str) -> None:
    overrides: dict[str, Any] = {
        "stream.backend": "kinesis",
        "stream.kinesis_endpoint": moto,
        "stream.kinesis_stream": "clicks",
    }
    report = _report(tmp_path, "event-log", **overrides)
    assert report.ok, report.to_dict()
    assert report.layers[4].detail == (
        "stream clicks ACTIVE, 2 open shards (no write: the log is live)"
    )
    report = _report(tmp_path, "event-log", **{**overrides, "stream.kinesis_stream": "gone"})
    assert report.failed_layer == "permission"
    assert report.problem == "kinesis stream gone does not exist in us-east-1"
    assert "`shoplake stream produce`" in (report.fix or "")
    assert "stream.kinesis_stream" in (report.fix or "")
