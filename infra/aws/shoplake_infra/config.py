"""Deployment parameters, read from CDK context (``cdk.json`` or ``-c key=value``).

Defaults come from shoplake's own settings where one exists (the Kinesis stream name, the
shard count, the warehouse prefix), so the infrastructure and the code agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from constructs import Node

from shoplake.config import AwsSettings, StreamSettings
from shoplake.lake.catalog import NAMESPACES

#: Context keys this app reads; anything else in the context is CDK's own.
CONTEXT_KEYS = (
    "environment",
    "stream_name",
    "shard_count",
    "bucket_prefix",
    "account",
    "region",
    "nat_gateways",
    "stream_batch_size",
    "stream_max_retries",
    "freshness_threshold_minutes",
    "iterator_age_threshold_ms",
    "api_5xx_threshold",
    "db_instance_class",
    "cache_node_type",
    "backup_retention_days",
    "api_certificate_arn",
    "api_desired_count",
)


@dataclass(frozen=True)
class InfraConfig:
    """Everything that differs between deployments; the rest is fixed by design."""

    environment: str = "dev"
    stream_name: str = StreamSettings().kinesis_stream
    shard_count: int = StreamSettings().shards
    bucket_prefix: str = "shoplake"
    account: str | None = None
    region: str | None = None
    nat_gateways: int = 1
    stream_batch_size: int = 500
    stream_max_retries: int = 3
    freshness_threshold_minutes: int = 90
    iterator_age_threshold_ms: int = 300_000
    api_5xx_threshold: int = 5
    db_instance_class: str = "t4g.micro"
    cache_node_type: str = "cache.t4g.micro"
    backup_retention_days: int = 7
    api_certificate_arn: str | None = None
    api_desired_count: int = 1

    #: The Iceberg namespaces shoplake creates; one Glue database each.
    namespaces: tuple[str, ...] = NAMESPACES
    #: Iceberg data lives under s3://<bucket>/<warehouse_prefix>/<namespace>/<table>/.
    warehouse_prefix: str = AwsSettings().prefix.strip("/")

    @classmethod
    def from_context(cls, node: Node) -> InfraConfig:
        """Read every known key from the construct tree's context, coercing CLI strings."""
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for key in CONTEXT_KEYS:
            raw = node.try_get_context(key)
            if raw is None or raw == "":
                continue
            if "int" not in str(types[key]):
                values[key] = str(raw)
                continue
            try:
                values[key] = int(raw)
            except (TypeError, ValueError):
                raise ValueError(f"context {key}={raw!r}: expected a whole number") from None
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse values CloudFormation would refuse later, with the key to fix."""
        if not 1 <= self.shard_count <= 500:
            raise ValueError(f"context shard_count={self.shard_count}: must be 1..500")
        if self.backup_retention_days < 7:
            raise ValueError("context backup_retention_days: must be at least 7")
        if not 1 <= self.stream_batch_size <= 10_000:
            raise ValueError("context stream_batch_size: must be 1..10000")
        if not self.environment.isalnum():
            raise ValueError(f"context environment={self.environment!r}: letters and digits")

    @property
    def prod(self) -> bool:
        """Production gets Multi-AZ databases and two cache nodes."""
        return self.environment == "prod"

    def name(self, part: str) -> str:
        """A resource or stack name unique per environment: ``shoplake-dev-<part>``."""
        return f"{self.bucket_prefix}-{self.environment}-{part}"
