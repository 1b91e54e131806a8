"""The API on Fargate: shoplake's FastAPI app in ECS behind an Application Load Balancer.

Fargate rather than Lambda + API Gateway: the app loads the promoted model and its vector
index once and keeps them warm, holds per-key rate-limit state in memory, and its dependency
closure (DuckDB, PyIceberg, faiss, implicit, scikit-learn) is far beyond a Lambda zip.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from shoplake_infra.api_policy import api_statements
from shoplake_infra.config import InfraConfig
from shoplake_infra.images import API_DOCKERFILE, REPO_ROOT, build_context
from shoplake_infra.lakehouse import LakehouseStack
from shoplake_infra.network import NetworkStack, client_group
from shoplake_infra.stores import StoresStack

API_PORT = 8000
EMPTY_KEY_FILE = '{"version": 1, "keys": []}'


class ApiStack(Stack):
    """ECS cluster, Fargate service in the private subnets, public ALB, the API keys secret."""

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
        self.api_keys = secretsmanager.Secret(
            self,
            "ApiKeys",
            secret_name=config.name("api-keys"),
            description="shoplake API keys file (SHA-256 hashes only; `shoplake keys create`)",
            # Not a secret: an empty key list, replaced with put-secret-value after deploy.
            secret_string_value=SecretValue.unsafe_plain_text(EMPTY_KEY_FILE),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.security_group = client_group(
            self, "SecurityGroup", network, "API tasks", cache=True, database=True
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="shoplake API: reads the gold namespace",
        )
        for statement in api_statements(self, lakehouse):
            self.task_role.add_to_policy(statement)

        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.api_certificate_arn)
            if config.api_certificate_arn
            else None
        )
        self.service = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Service",
            cluster=cluster,
            cpu=1024,
            memory_limit_mib=4096,
            desired_count=config.api_desired_count,
            min_healthy_percent=100,  # rolling deploys start new tasks before stopping old
            max_healthy_percent=200,
            public_load_balancer=True,
            certificate=certificate,
            protocol=(
                elbv2.ApplicationProtocol.HTTPS if certificate else elbv2.ApplicationProtocol.HTTP
            ),
            redirect_http=certificate is not None,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            task_image_options=ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_asset(
                    str(REPO_ROOT),
                    file=API_DOCKERFILE,
                    exclude=build_context("infra/aws/api"),
                    ignore_mode=IgnoreMode.DOCKER,
                    platform=ecr_assets.Platform.LINUX_AMD64,
                ),
                container_port=API_PORT,
                task_role=self.task_role,
                environment=self._environment(config, lakehouse, stores),
                secrets=self._secrets(stores),
                log_driver=ecs.LogDrivers.aws_logs(
                    stream_prefix="api",
                    log_group=logs.LogGroup(
                        self,
                        "Logs",
                        retention=logs.RetentionDays.ONE_MONTH,
                        removal_policy=RemovalPolicy.DESTROY,
                    ),
                ),
            ),
        )
        self.service.target_group.configure_health_check(
            path="/health", healthy_http_codes="200", interval=Duration.seconds(30)
        )

    @staticmethod
    def _environment(
        config: InfraConfig, lakehouse: LakehouseStack, stores: StoresStack
    ) -> dict[str, str]:
        return {
            "SHOPLAKE_PROFILE": "aws",
            "SHOPLAKE_DATA_DIR": "/data",
            "SHOPLAKE_SERVE__HOST": "0.0.0.0",  # inside the task, behind the ALB
            "SHOPLAKE_SERVE__PORT": str(API_PORT),
            "SHOPLAKE_AWS__BUCKET": lakehouse.bucket.bucket_name,
            "SHOPLAKE_AWS__REGION": lakehouse.region,
            "SHOPLAKE_AWS__PREFIX": config.warehouse_prefix,
            "SHOPLAKE_STREAM__KINESIS_STREAM": lakehouse.stream.stream_name,
            "SHOPLAKE_STREAM__URL": stores.cache.url,
        }

    def _secrets(self, stores: StoresStack) -> dict[str, ecs.Secret]:
        """Injected at task start; the entrypoint turns them into the key file and the
        pgvector URL (``infra/aws/api/entrypoint.sh``)."""
        database = stores.database.secret
        fields = ("host", "port", "username", "password", "dbname")
        return {
            "SHOPLAKE_API_KEYS_JSON": ecs.Secret.from_secrets_manager(self.api_keys),
            **{f"DB_{f.upper()}": ecs.Secret.from_secrets_manager(database, f) for f in fields},
        }
