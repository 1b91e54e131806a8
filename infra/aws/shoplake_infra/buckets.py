"""The one way this app makes an S3 bucket: KMS-encrypted, private, versioned, TLS only."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

NONCURRENT_VERSION_DAYS = 30


def secure_bucket(
    scope: Construct, construct_id: str, *, bucket_name: str, key: kms.IKey
) -> s3.Bucket:
    """A bucket encrypted with ``key`` (S3 Bucket Keys on, to cut KMS calls), every public
    access path blocked, objects owned by the bucket owner (no ACLs), versioned with old
    versions expiring after 30 days, and a bucket policy denying any request without TLS."""
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        versioned=True,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
