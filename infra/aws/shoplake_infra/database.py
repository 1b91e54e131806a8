"""RDS PostgreSQL: the operational source and, with pgvector, shoplake's vector index."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from shoplake_infra.config import InfraConfig

DATABASE_NAME = "shoplake"
MASTER_USER = "shoplake_admin"


class Database(Construct):
    """A private, encrypted PostgreSQL instance whose credentials only exist in Secrets
    Manager (generated there at deploy time, never in the template)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17)
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="shoplake: TLS required",
            parameters={"rds.force_ssl": "1"},
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(config.db_instance_class),
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                # The secret keeps Secrets Manager's own key: with the database key, every
                # reader's grant would have to go into that key's policy (a stack cycle).
                MASTER_USER,
                secret_name=config.name("database"),
            ),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            publicly_accessible=False,
            storage_encrypted=True,
            storage_encryption_key=key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=20,
            max_allocated_storage=200,
            multi_az=config.prod,
            parameter_group=parameters,
            backup_retention=Duration.days(config.backup_retention_days),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            cloudwatch_logs_exports=["postgresql"],
        )
        assert self.instance.secret is not None  # from_generated_secret always makes one
        self.secret = self.instance.secret
