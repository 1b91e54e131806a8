"""Security: is the lakehouse encrypted at rest? The aws profile's bucket, read with boto3."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoplake.config import AwsSettings, Settings
    from shoplake.ops.assess.model import Recorder

#: The error S3 answers when a bucket has no default encryption configuration.
NO_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def check_encryption(settings: Settings, rec: Recorder) -> None:
    """The bucket's default encryption against ``aws.encryption`` (aws profile), or a note
    that a local warehouse is only as encrypted as its disk."""
    if settings.profile != "aws":
        rec.finding(
            "encryption-local-disk",
            "info",
            "the local warehouse is not encrypted by shoplake: it relies on disk encryption",
            {"profile": settings.profile, "warehouse": settings.warehouse},
            "encrypt the disk holding data_dir (LUKS, FileVault, BitLocker), or use the aws "
            "profile with an aws:kms bucket",
        )
        return
    aws = settings.aws
    where: dict[str, Any] = {"bucket": f"s3://{aws.bucket}", "region": aws.region}
    if aws.endpoint_url:
        where["endpoint"] = aws.endpoint_url
    rules = _read_rules(aws, where, rec)
    if rules is None:
        return
    if aws.encryption == "none":
        rec.finding(
            "encryption-not-required",
            "medium",
            "the aws profile does not require the bucket to be encrypted (aws.encryption = none)",
            where | {"aws.encryption": "none"},
            "set aws.encryption = 'aws:kms' (and aws.kms_key_id) in shoplake.toml",
        )
    _judge(aws, rules, where, rec)


def _read_rules(aws: AwsSettings, where: dict[str, Any], rec: Recorder) -> list[Any] | None:
    """The bucket's default-encryption rules ([] when it has none), or None when unreadable."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        rec.finding(
            "encryption-unverified",
            "medium",
            "cannot verify the bucket's encryption: boto3 is not installed",
            where,
            "pip install -e '.[aws]'",
        )
        return None
    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
    s3 = boto3.client("s3", region_name=aws.region, endpoint_url=aws.endpoint_url, config=config)
    try:
        answer = s3.get_bucket_encryption(Bucket=aws.bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == NO_ENCRYPTION:
            return []
        problem = f"S3 refused get_bucket_encryption: {code}"
    except BotoCoreError as exc:
        problem = f"cannot reach S3: {exc}"
    else:
        rules: list[Any] = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        return rules
    rec.finding(
        "encryption-unverified",
        "medium",
        f"cannot verify the default encryption of s3://{aws.bucket}",
        where | {"error": problem},
        "run `shoplake doctor` and allow s3:GetEncryptionConfiguration on the bucket",
    )
    return None


def _judge(aws: AwsSettings, rules: list[Any], where: dict[str, Any], rec: Recorder) -> None:
    defaults = [rule.get("ApplyServerSideEncryptionByDefault", {}) for rule in rules]
    algorithms = [d.get("SSEAlgorithm", "") for d in defaults if d]
    kms_fix = (
        f"aws s3api put-bucket-encryption --bucket {aws.bucket} --server-side-encryption-"
        'configuration \'{"Rules":[{"ApplyServerSideEncryptionByDefault":'
        '{"SSEAlgorithm":"aws:kms"}}]}\' (or deploy infra/aws)'
    )
    evidence = where | {"aws.encryption": aws.encryption, "bucket default": algorithms or "none"}
    if not algorithms:
        rec.finding(
            "bucket-unencrypted",
            "high",
            f"bucket s3://{aws.bucket} has no default encryption",
            evidence,
            kms_fix,
        )
        return
    if aws.encryption in KMS_ALGORITHMS and not set(algorithms) & set(KMS_ALGORITHMS):
        rec.finding(
            "bucket-not-kms",
            "medium",
            f"bucket s3://{aws.bucket} encrypts with {', '.join(algorithms)}, not aws:kms as "
            "aws.encryption requires",
            evidence,
            kms_fix,
        )
        return
    keys = [d.get("KMSMasterKeyID") for d in defaults if d.get("KMSMasterKeyID")]
    wanted = aws.kms_key_id
    if wanted and keys and not any(k == wanted or k.endswith(f"/{wanted}") for k in keys):
        rec.finding(
            "bucket-wrong-kms-key",
            "medium",
            f"bucket s3://{aws.bucket} encrypts with another KMS key than aws.kms_key_id",
            evidence | {"aws.kms_key_id": wanted, "bucket key": keys},
            "point the bucket's default encryption at aws.kms_key_id, or fix aws.kms_key_id",
        )
        return
    rec.passed("bucket encryption", f"s3://{aws.bucket} encrypts by default with {algorithms[0]}")
