"""ElastiCache Redis: the online store (sessions and live recommendations)."""

from __future__ import annotations

from aws_cdk import Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from constructs import Construct

from shoplake_infra.config import InfraConfig
from shoplake_infra.network import REDIS_PORT


class Cache(Construct):
    """A Redis replication group in the isolated subnets, TLS required in transit and
    encrypted at rest with its own key; two nodes with failover in production."""

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
        isolated = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        subnets = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="shoplake online store: isolated subnets",
            subnet_ids=isolated.subnet_ids,
        )
        nodes = 2 if config.prod else 1
        self.group = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description="shoplake online store",
            engine="redis",
            engine_version="7.1",
            cache_node_type=config.cache_node_type,
            num_cache_clusters=nodes,
            automatic_failover_enabled=nodes > 1,
            multi_az_enabled=nodes > 1,
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[security_group.security_group_id],
            port=REDIS_PORT,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            snapshot_retention_limit=1,
            auto_minor_version_upgrade=True,
        )

    @property
    def url(self) -> str:
        """The TLS URL shoplake's ``stream.url`` takes (``rediss://host:port/0``)."""
        return Fn.join(
            "",
            [
                "rediss://",
                self.group.attr_primary_end_point_address,
                ":",
                self.group.attr_primary_end_point_port,
                "/0",
            ],
        )
