"""The stores stack: RDS PostgreSQL and ElastiCache Redis, each with its own key."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from shoplake_infra.cache import Cache
from shoplake_infra.config import InfraConfig
from shoplake_infra.database import Database
from shoplake_infra.keys import data_key
from shoplake_infra.network import NetworkStack


class StoresStack(Stack):
    """Stateful services in the isolated subnets, reachable only from the app security
    groups (rules in :class:`~shoplake_infra.network.NetworkStack`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        network: NetworkStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.database_key = data_key(
            self, "DatabaseKey", alias=config.name("database"), purpose="RDS PostgreSQL"
        )
        self.database = Database(
            self,
            "Postgres",
            config=config,
            vpc=network.vpc,
            security_group=network.database_sg,
            key=self.database_key,
        )
        self.cache_key = data_key(
            self, "CacheKey", alias=config.name("cache"), purpose="ElastiCache Redis"
        )
        self.cache = Cache(
            self,
            "OnlineStore",
            config=config,
            vpc=network.vpc,
            security_group=network.cache_sg,
            key=self.cache_key,
        )
