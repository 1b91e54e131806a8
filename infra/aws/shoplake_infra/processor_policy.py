"""The stream processor's permissions, statement by statement (least privilege).

The processor appends to ``bronze.events`` and ``bronze.dead_letters`` and reads the product
list it validates events against (``silver.products``, else ``bronze.products``). It gets
exactly that: its own stream, its own two tables (data, metadata and Glue entries), read-only
access to the product tables, and the keys those need — nothing with a wildcard action.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from shoplake_infra import arns
from shoplake_infra.lakehouse import LakehouseStack

#: The tables the processor writes: (namespace, table).
OWNED_TABLES: tuple[tuple[str, str], ...] = (("bronze", "events"), ("bronze", "dead_letters"))
#: The tables it reads to validate product codes (``known_products`` in stream_workers).
REFERENCE_TABLES: tuple[tuple[str, str], ...] = (("silver", "products"), ("bronze", "products"))

STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:SubscribeToShard",
)
OBJECT_WRITE_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload")
GLUE_OWN_ACTIONS = ("glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable")


def processor_statements(stack: Stack, lakehouse: LakehouseStack) -> list[iam.PolicyStatement]:
    """Every data-plane permission of the processor's role (logs and VPC are separate)."""
    bucket = lakehouse.bucket.bucket_arn

    def prefix(namespace: str, table: str) -> str:
        return arns.objects_under(bucket, f"{lakehouse.namespace_prefix(namespace)}/{table}")

    owned_dbs = sorted({ns for ns, _ in OWNED_TABLES})
    reference_dbs = sorted({ns for ns, _ in REFERENCE_TABLES})
    return [
        iam.PolicyStatement(
            sid="ReadOwnStream",
            actions=list(STREAM_READ_ACTIONS),
            resources=[lakehouse.stream.stream_arn],
        ),
        iam.PolicyStatement(
            sid="DecryptOwnStream",
            actions=["kms:Decrypt"],
            resources=[lakehouse.stream_key.key_arn],
        ),
        iam.PolicyStatement(
            sid="WriteOwnTables",
            actions=list(OBJECT_WRITE_ACTIONS),
            resources=[prefix(ns, table) for ns, table in OWNED_TABLES],
        ),
        iam.PolicyStatement(
            sid="ReadProductTables",
            actions=["s3:GetObject"],
            resources=[prefix(ns, table) for ns, table in REFERENCE_TABLES],
        ),
        iam.PolicyStatement(
            # Key names only: HeadBucket (open_catalog checks the bucket) and a 404 rather
            # than a 403 when PyIceberg checks that a new file does not exist yet.
            sid="ListLakehouseBucket",
            actions=["s3:ListBucket"],
            resources=[bucket],
        ),
        iam.PolicyStatement(
            sid="UseBucketKeyThroughS3",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[lakehouse.bucket_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="GlueOwnTables",
            actions=list(GLUE_OWN_ACTIONS),
            resources=[
                arns.glue_catalog(stack),
                *(arns.glue_database(stack, ns) for ns in owned_dbs),
                *(arns.glue_table(stack, ns, table) for ns, table in OWNED_TABLES),
            ],
        ),
        iam.PolicyStatement(
            sid="GlueReadProductTables",
            actions=["glue:GetTable"],
            resources=[
                arns.glue_catalog(stack),
                *(arns.glue_database(stack, ns) for ns in reference_dbs),
                *(arns.glue_table(stack, ns, table) for ns, table in REFERENCE_TABLES),
            ],
        ),
        iam.PolicyStatement(
            # The freshness metric the monitoring stack alarms on. PutMetricData has no
            # resource ARN; the condition confines it to shoplake's own namespace.
            sid="PutFreshnessMetric",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "shoplake"}},
        ),
        iam.PolicyStatement(
            # open_catalog lists the namespaces to create missing ones; Glue filters the
            # list by permission, so it must see all of shoplake's (names only, no tables).
            sid="GlueListNamespaces",
            actions=["glue:GetDatabases"],
            resources=[
                arns.glue_catalog(stack),
                *(arns.glue_database(stack, ns) for ns in lakehouse.config.namespaces),
            ],
        ),
    ]
