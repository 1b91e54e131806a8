"""A real moto server (S3, Glue, Kinesis…) on 127.0.0.1 with test credentials, for the tests."""

from __future__ import annotations

import contextlib
import logging
import urllib.request
from collections.abc import Iterator

import pytest

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """Start moto's server (skipping when boto3 or moto is missing) with no resources left
    from earlier tests, set test credentials in the environment, yield its URL; stop it and
    restore the environment afterwards."""
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'shoplake[aws]')")
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request at INFO
    try:
        server.start()
    except Exception as exc:  # depends on the machine
        print(f"SKIP: moto server cannot start: {exc}")
        pytest.skip(f"moto server cannot start: {exc}")
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, shared by every server: start each user from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in TEST_CREDENTIALS.items():
                env.setenv(name, value)
            yield endpoint
    finally:
        server.stop()


def create_bucket(
    endpoint: str, bucket: str, *, kms: bool = True, region: str = "us-east-1"
) -> None:
    """A bucket on the moto server, with default KMS encryption unless ``kms`` is False."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        location = {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)  # type: ignore[arg-type]
    if kms:
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
