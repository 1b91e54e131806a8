"""The stream processor: shoplake's own processing code as a Lambda on the Kinesis stream."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shoplake_infra.config import InfraConfig
from shoplake_infra.images import PROCESSOR_DOCKERFILE, REPO_ROOT, build_context
from shoplake_infra.lakehouse import LakehouseStack
from shoplake_infra.network import NetworkStack, client_group
from shoplake_infra.processor_policy import processor_statements
from shoplake_infra.stores import StoresStack

HANDLER = "shoplake.ingest.stream_lambda.handler"
VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"


class StreamProcessorStack(Stack):
    """Lambda + Kinesis event source mapping (one batch per shard at a time, so positions
    stay contiguous: exactly once), with failed batches recorded in an SQS queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        network: NetworkStack,
        lakehouse: LakehouseStack,
        stores: StoresStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.security_group = client_group(
            self, "SecurityGroup", network, "stream processor", cache=True
        )
        self.role = self._role(lakehouse)
        # A container image: shoplake with PyIceberg, PyArrow and the rest exceeds a zip's
        # 250 MB; the image is built from the repository by `cdk deploy`.
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description="shoplake stream processor: Kinesis -> bronze.events (exactly once)",
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=PROCESSOR_DOCKERFILE,
                exclude=build_context("infra/aws/processor"),
                ignore_mode=IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.LINUX_AMD64,
                cmd=[HANDLER],
            ),
            role=self.role,
            memory_size=2048,
            timeout=Duration.minutes(5),
            log_group=self.log_group,
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            environment=self._environment(config, lakehouse, stores),
        )
        self.failures = sqs.Queue(
            self,
            "FailedBatches",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.mapping = self.function.add_event_source_mapping(
            "Events",
            event_source_arn=lakehouse.stream.stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=config.stream_batch_size,
            max_batching_window=Duration.seconds(5),
            bisect_batch_on_error=True,
            retry_attempts=config.stream_max_retries,
            max_record_age=Duration.days(1),
            parallelization_factor=1,
            report_batch_item_failures=False,
            # Grants SendMessage/GetQueueAttributes/GetQueueUrl on this queue only.
            on_failure=event_sources.SqsDlq(self.failures),
        )

    def _role(self, lakehouse: LakehouseStack) -> iam.Role:
        """Its own role: VPC networking (AWS's managed policy), its log group, and the
        statements of :mod:`shoplake_infra.processor_policy` — nothing else."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="shoplake stream processor",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(VPC_ACCESS_POLICY)],
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        for statement in processor_statements(self, lakehouse):
            role.add_to_policy(statement)
        return role

    @staticmethod
    def _environment(
        config: InfraConfig, lakehouse: LakehouseStack, stores: StoresStack
    ) -> dict[str, str]:
        """shoplake settings as ``SHOPLAKE_…`` variables (see ``shoplake.config``)."""
        return {
            "SHOPLAKE_PROFILE": "aws",
            "SHOPLAKE_AWS__BUCKET": lakehouse.bucket.bucket_name,
            "SHOPLAKE_AWS__REGION": lakehouse.region,
            "SHOPLAKE_AWS__PREFIX": config.warehouse_prefix,
            "SHOPLAKE_AWS__ENCRYPTION": "aws:kms",
            "SHOPLAKE_AWS__KMS_KEY_ID": lakehouse.bucket_key.key_arn,
            "SHOPLAKE_STREAM__BACKEND": "kinesis",
            "SHOPLAKE_STREAM__KINESIS_STREAM": lakehouse.stream.stream_name,
            "SHOPLAKE_STREAM__SHARDS": str(config.shard_count),
            "SHOPLAKE_STREAM__REGION": lakehouse.region,
            # The online store: the ElastiCache endpoint over TLS (no secret in the URL).
            "SHOPLAKE_STREAM__URL": stores.cache.url,
        }
