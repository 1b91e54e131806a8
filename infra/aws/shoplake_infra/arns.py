"""ARNs of Glue Data Catalog objects and of S3 key prefixes, for IAM statements."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack


def glue_catalog(stack: Stack) -> str:
    """The account's Data Catalog: every Glue call needs it beside the object's own ARN."""
    return stack.format_arn(
        service="glue", resource="catalog", arn_format=ArnFormat.NO_RESOURCE_NAME
    )


def glue_database(stack: Stack, database: str) -> str:
    return stack.format_arn(
        service="glue",
        resource="database",
        resource_name=database,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def glue_table(stack: Stack, database: str, table: str) -> str:
    return stack.format_arn(
        service="glue",
        resource="table",
        resource_name=f"{database}/{table}",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def objects_under(bucket_arn: str, prefix: str) -> str:
    """Every object under ``prefix/`` of a bucket (``<bucket-arn>/<prefix>/*``)."""
    return f"{bucket_arn}/{prefix.strip('/')}/*"
