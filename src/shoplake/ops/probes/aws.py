"""AWS services through boto3: the S3 warehouse and the Kinesis event log.

Both talk to an endpoint (AWS, or a local moto/kinesalite/MinIO given by ``AWS_ENDPOINT_URL``
or ``stream.kinesis_endpoint``) whose network layers are checked first; auth is the first call
signed with the credentials boto3 finds; errors are told apart by their AWS error code.
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import urlsplit

from shoplake.ops.doctor import Failed, Limits, Measured
from shoplake.ops.probes.http import http_address
from shoplake.ops.probes.network import NetworkProbe

_CREDENTIAL_FIXES = {
    "InvalidAccessKeyId": "the access key id is unknown: fix AWS_ACCESS_KEY_ID (or the profile)",
    "UnrecognizedClientException": "the access key id is unknown: fix AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "the secret does not match the key: fix AWS_SECRET_ACCESS_KEY",
    "InvalidSignatureException": "the secret does not match the key: fix AWS_SECRET_ACCESS_KEY",
    "ExpiredToken": "the session token expired: refresh the credentials (e.g. aws sso login)",
    "ExpiredTokenException": "the session token expired: refresh the credentials",
}


def region_of(default: str = "us-east-1") -> str:
    """The region boto3 would use from the environment, else ``default``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or default


def error_code(exc: Exception) -> tuple[str, str]:
    """The AWS error code and message of a botocore ClientError."""
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code", type(exc).__name__)), str(error.get("Message", exc))


class AwsProbe(NetworkProbe):
    """A boto3 service behind ``endpoint`` (from ``endpoint_key``), signed for ``region``."""

    service = ""

    def __init__(
        self,
        name: str,
        target: str,
        endpoint: str,
        endpoint_key: str,
        *,
        region: str,
        limits: Limits,
    ) -> None:
        scheme = urlsplit(endpoint).scheme
        address = http_address(
            endpoint, endpoint_key, f"start the {self.service} endpoint or fix {endpoint_key}"
        )
        tls_skipped = None if scheme == "https" else f"not requested ({scheme}://)"
        super().__init__(
            name,
            target,
            address,
            limits,
            tls_skipped=tls_skipped,
            tls_fix=f"use http:// in {endpoint_key} for a local endpoint",
        )
        self.endpoint = endpoint
        self.region = region
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                retries={"max_attempts": 1, "mode": "standard"},
            )
            self._client = boto3.client(
                self.service, region_name=self.region, endpoint_url=self.endpoint, config=config
            )
        return self._client

    def credentials(self) -> str:
        """Who signs the calls; Failed when boto3 finds no credentials."""
        import boto3

        found = boto3.Session().get_credentials()
        if found is None:
            raise Failed(
                "no AWS credentials found",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            )
        return f"access key {found.access_key[:4]}…"

    def call(self, operation: str, **kwargs: Any) -> Any:
        """One API call; credential errors fail auth, other errors are returned to classify."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code, message = error_code(exc)
            if code in _CREDENTIAL_FIXES:
                raise Failed(
                    f"{self.service} refused the credentials: {message} ({code})",
                    _CREDENTIAL_FIXES[code],
                ) from None
            return exc
        except BotoCoreError as exc:
            raise Failed(
                f"{self.service} {operation} at {self.endpoint} failed: {exc}",
                f"check {self.address.config_key} and the network",
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class S3Probe(AwsProbe):
    """An ``s3://bucket/prefix`` warehouse: list, put and delete a probe object."""

    service = "s3"

    def __init__(self, warehouse: str, limits: Limits) -> None:
        parts = urlsplit(warehouse)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        region = region_of()
        endpoint = (
            os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://s3.{region}.amazonaws.com"
        )
        super().__init__(
            "warehouse", warehouse, endpoint, "AWS_ENDPOINT_URL", region=region, limits=limits
        )
        self.listing: Any = None

    def auth(self) -> str:
        who = self.credentials()
        self.listing = self.call(
            "list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1
        )
        return f"{who} accepted by {self.endpoint}"

    def permission(self) -> str:
        self._raise(self.listing, "s3:ListBucket", f"arn:aws:s3:::{self.bucket}")
        key = f"{self.prefix}/.doctor-{uuid.uuid4().hex[:12]}".lstrip("/")
        resource = f"arn:aws:s3:::{self.bucket}/{self.prefix + '/' if self.prefix else ''}*"
        put = self.call("put_object", Bucket=self.bucket, Key=key, Body=b"shoplake doctor\n")
        self._raise(put, "s3:PutObject", resource)
        self._raise(
            self.call("delete_object", Bucket=self.bucket, Key=key), "s3:DeleteObject", resource
        )
        return f"listed s3://{self.bucket}/{self.prefix}; put and deleted a probe object"

    def _raise(self, outcome: Any, action: str, resource: str) -> None:
        if not isinstance(outcome, Exception):
            return
        code, message = error_code(outcome)
        if code == "NoSuchBucket":
            raise Failed(
                f"bucket {self.bucket} does not exist at {self.endpoint}",
                f"create it (aws s3 mb s3://{self.bucket}) or fix lake.warehouse",
            )
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            raise Failed(
                f"access denied: {action} on {resource} ({message})",
                f"grant {action} on {resource} to these credentials",
            )
        raise Failed(
            f"s3 {action} on {resource} failed: {message} ({code})", "check lake.warehouse"
        )

    def latency(self) -> Measured:
        return self.limits.latency(
            lambda: self.client.head_bucket(Bucket=self.bucket),
            "HeadBucket",
            f"{self.endpoint} is slow: check the network to the region",
        )


class KinesisProbe(AwsProbe):
    """The Kinesis event log: the stream exists and is ACTIVE (no record is written)."""

    service = "kinesis"

    def __init__(self, stream: str, endpoint: str | None, region: str, limits: Limits) -> None:
        self.stream = stream
        url = endpoint or f"https://kinesis.{region}.amazonaws.com"
        target = f"kinesis:{stream}@{url}"
        super().__init__(
            "event log", target, url, "stream.kinesis_endpoint", region=region, limits=limits
        )
        self.summary: Any = None

    def auth(self) -> str:
        who = self.credentials()
        self.summary = self.call("describe_stream_summary", StreamName=self.stream)
        return f"{who} accepted by {self.endpoint}"

    def permission(self) -> str:
        if isinstance(self.summary, Exception):
            code, message = error_code(self.summary)
            if code == "ResourceNotFoundException":
                raise Failed(
                    f"kinesis stream {self.stream} does not exist in {self.region}",
                    "create it with `shoplake stream produce` (stream.shards shards) or fix "
                    "stream.kinesis_stream",
                )
            if code == "AccessDeniedException":
                raise Failed(
                    f"access denied describing kinesis stream {self.stream}: {message}",
                    "grant kinesis:DescribeStreamSummary, GetRecords, GetShardIterator, "
                    f"PutRecords and ListShards on stream {self.stream}",
                )
            raise Failed(f"kinesis: {message} ({code})", "check stream.kinesis_stream")
        summary = self.summary["StreamDescriptionSummary"]
        status = summary["StreamStatus"]
        if status not in ("ACTIVE", "UPDATING"):
            raise Failed(
                f"kinesis stream {self.stream} is {status}", "wait until it is ACTIVE, then retry"
            )
        from shoplake.cli.output import plural

        shards = summary.get("OpenShardCount")
        opened = "? open shards" if shards is None else plural(int(shards), "open shard")
        return f"stream {self.stream} {status}, {opened} (no write: the log is live)"

    def latency(self) -> Measured:
        return self.limits.latency(
            lambda: self.client.describe_stream_summary(StreamName=self.stream),
            "DescribeStreamSummary",
            f"{self.endpoint} is slow: check the network to the region",
        )
