"""The API task's permissions: read the gold namespace (data and Glue entries), and put
events on the clickstream (``POST /events`` produces to the event log) — nothing else.

Secrets (the API keys file, the database credentials) are not here: ECS injects them at task
start with the *execution* role, so the running application cannot read any other secret.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from shoplake_infra import arns
from shoplake_infra.lakehouse import LakehouseStack

SERVED_NAMESPACE = "gold"
GLUE_READ_ACTIONS = ("glue:GetDatabase", "glue:GetTable", "glue:GetTables")
#: Opening the Kinesis log checks the stream and maps its shards; producing puts records.
STREAM_PUT_ACTIONS = (
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
)


def api_statements(stack: Stack, lakehouse: LakehouseStack) -> list[iam.PolicyStatement]:
    """Read-only access to ``gold`` (objects under ``warehouse/gold/``, its Glue tables) and
    write-only access to the event stream."""
    bucket = lakehouse.bucket.bucket_arn
    return [
        iam.PolicyStatement(
            sid="ReadGoldObjects",
            actions=["s3:GetObject"],
            resources=[arns.objects_under(bucket, lakehouse.namespace_prefix(SERVED_NAMESPACE))],
        ),
        iam.PolicyStatement(
            # Key names only (HeadBucket when the catalog opens); no object outside gold.
            sid="ListLakehouseBucket",
            actions=["s3:ListBucket"],
            resources=[bucket],
        ),
        iam.PolicyStatement(
            sid="DecryptThroughS3",
            actions=["kms:Decrypt"],
            resources=[lakehouse.bucket_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="GlueReadGold",
            actions=list(GLUE_READ_ACTIONS),
            resources=[
                arns.glue_catalog(stack),
                arns.glue_database(stack, SERVED_NAMESPACE),
                arns.glue_table(stack, SERVED_NAMESPACE, "*"),
            ],
        ),
        iam.PolicyStatement(
            sid="GlueListNamespaces",
            actions=["glue:GetDatabases"],
            resources=[
                arns.glue_catalog(stack),
                *(arns.glue_database(stack, ns) for ns in lakehouse.config.namespaces),
            ],
        ),
        iam.PolicyStatement(
            sid="ProduceEvents",
            actions=list(STREAM_PUT_ACTIONS),
            resources=[lakehouse.stream.stream_arn],
        ),
        iam.PolicyStatement(
            sid="EncryptEvents",
            actions=["kms:GenerateDataKey"],
            resources=[lakehouse.stream_key.key_arn],
        ),
    ]
