"""The VPC, the stores' security groups, and how an application is let in to a store."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from shoplake_infra.config import InfraConfig

POSTGRES_PORT = 5432
REDIS_PORT = 6379


class NetworkStack(Stack):
    """Public subnets (load balancer, NAT), private subnets with egress (the Lambda and the
    API tasks) and isolated subnets (RDS, ElastiCache); the stores' security groups admit
    nothing until an application opens a path with :func:`client_group`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            ],
            gateway_endpoints={
                # S3 traffic (the lakehouse) stays on the AWS network, and costs no NAT.
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        self.database_sg = _group(self, "DatabaseSg", self.vpc, "RDS PostgreSQL", egress=False)
        self.cache_sg = _group(self, "CacheSg", self.vpc, "ElastiCache Redis", egress=False)


def client_group(
    scope: Construct,
    construct_id: str,
    network: NetworkStack,
    who: str,
    *,
    database: bool = False,
    cache: bool = False,
) -> ec2.SecurityGroup:
    """The security group of one application (egress to anywhere: AWS APIs via NAT), opened
    to the stores it uses. The ingress rules land in the application's stack, which depends
    on this one, so stores admit exactly the applications that declare them."""
    group = _group(scope, construct_id, network.vpc, who, egress=True)
    # remote_rule: declare the rule beside the peer (this application), not in this stack.
    if cache:
        network.cache_sg.add_ingress_rule(
            group, ec2.Port.tcp(REDIS_PORT), f"{who}: Redis", remote_rule=True
        )
    if database:
        network.database_sg.add_ingress_rule(
            group, ec2.Port.tcp(POSTGRES_PORT), f"{who}: PostgreSQL", remote_rule=True
        )
    return group


def _group(
    scope: Construct, construct_id: str, vpc: ec2.IVpc, who: str, *, egress: bool
) -> ec2.SecurityGroup:
    return ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, description=f"shoplake: {who}", allow_all_outbound=egress
    )
