"""The lakehouse: the Iceberg warehouse bucket, one Glue database per namespace, and the
Kinesis event log, each with its own customer-managed key."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from shoplake_infra.buckets import secure_bucket
from shoplake_infra.config import InfraConfig
from shoplake_infra.keys import data_key


class LakehouseStack(Stack):
    """S3 + Glue (shoplake's ``aws`` lakehouse) and Kinesis (its ``kinesis`` event log)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.bucket_key = data_key(
            self, "BucketKey", alias=config.name("lakehouse"), purpose="the lakehouse bucket"
        )
        self.bucket = secure_bucket(
            self,
            "Lakehouse",
            # Bucket names are global: the account and region make this one unique.
            bucket_name=Fn.join("-", [config.name("lakehouse"), Aws.ACCOUNT_ID, Aws.REGION]),
            key=self.bucket_key,
        )
        self.databases = {ns: self._database(ns) for ns in config.namespaces}

        self.stream_key = data_key(
            self, "StreamKey", alias=config.name("events"), purpose="the clickstream"
        )
        self.stream = kinesis.Stream(
            self,
            "Events",
            stream_name=config.stream_name,
            shard_count=config.shard_count,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.stream_key,
            retention_period=Duration.hours(24),
        )

    def _database(self, namespace: str) -> glue.CfnDatabase:
        """The Glue database of one Iceberg namespace. Its location makes PyIceberg put a
        new table at ``<warehouse>/<namespace>/<table>/``, the prefixes IAM policies name."""
        return glue.CfnDatabase(
            self,
            f"Namespace{namespace.title()}",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=namespace,
                description=f"shoplake Iceberg namespace {namespace}",
                location_uri=self.namespace_uri(namespace),
            ),
        )

    def namespace_prefix(self, namespace: str) -> str:
        """The key prefix of a namespace inside the bucket: ``warehouse/<namespace>``."""
        return f"{self.config.warehouse_prefix}/{namespace}"

    def namespace_uri(self, namespace: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.namespace_prefix(namespace)}"
