"""Customer-managed KMS keys: one per data store, rotation on, kept when a stack is deleted."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


def data_key(scope: Construct, construct_id: str, *, alias: str, purpose: str) -> kms.Key:
    """A symmetric key for one store. Its key policy is CDK's default (the account root may
    administer and use it, which delegates every use to IAM policies); the roles that use it
    are granted exactly the operations they need in their own IAM policies."""
    return kms.Key(
        scope,
        construct_id,
        alias=f"alias/{alias}",
        description=f"shoplake: {purpose}",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
