"""Alarms on what breaks a data platform quietly: stream lag, processor errors and
throttles, stale data, and API errors — all notifying one encrypted SNS topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from shoplake_infra.api import ApiStack
from shoplake_infra.config import InfraConfig
from shoplake_infra.keys import data_key
from shoplake_infra.lakehouse import LakehouseStack
from shoplake_infra.processor import StreamProcessorStack

#: The custom metric the pipeline publishes after each run: minutes since the newest data.
FRESHNESS_NAMESPACE = "shoplake"
FRESHNESS_METRIC = "FreshnessMinutes"
FIVE_MINUTES = Duration.minutes(5)


class MonitoringStack(Stack):
    """One alarm per failure mode, each naming the metric it watches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        lakehouse: LakehouseStack,
        processor: StreamProcessorStack,
        api: ApiStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = data_key(self, "AlarmsKey", alias=config.name("alarms"), purpose="alarm topic")
        # CloudWatch publishes to an encrypted topic only if the key lets it.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchPublishes",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True)
        function = processor.function
        load_balancer = api.service.load_balancer
        self.alarms = [
            self._alarm(
                "StreamLag",
                "the processor falls behind the clickstream",
                lakehouse.stream.metric_get_records_iterator_age_milliseconds(
                    statistic="Maximum", period=FIVE_MINUTES
                ),
                config.iterator_age_threshold_ms,
            ),
            self._alarm(
                "ProcessorErrors",
                "stream processor invocations fail",
                function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                0,
            ),
            self._alarm(
                "ProcessorThrottles",
                "stream processor invocations are throttled",
                function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                0,
            ),
            self._alarm(
                "DataFreshness",
                f"the lakehouse is older than {config.freshness_threshold_minutes} minutes "
                "(or the pipeline stopped publishing its freshness)",
                cloudwatch.Metric(
                    namespace=FRESHNESS_NAMESPACE,
                    metric_name=FRESHNESS_METRIC,
                    statistic="Maximum",
                    period=FIVE_MINUTES,
                ),
                config.freshness_threshold_minutes,
                missing=cloudwatch.TreatMissingData.BREACHING,
                periods=3,
            ),
            self._alarm(
                "Api5xx",
                "the API answers with server errors",
                load_balancer.metrics.http_code_target(
                    code=elbv2.HttpCodeTarget.TARGET_5XX_COUNT, statistic="Sum", period=FIVE_MINUTES
                ),
                config.api_5xx_threshold,
            ),
            self._alarm(
                "LoadBalancer5xx",
                "the load balancer answers 5xx (no healthy API task)",
                load_balancer.metrics.http_code_elb(
                    code=elbv2.HttpCodeElb.ELB_5XX_COUNT, statistic="Sum", period=FIVE_MINUTES
                ),
                config.api_5xx_threshold,
            ),
        ]

    def _alarm(
        self,
        construct_id: str,
        what: str,
        metric: cloudwatch.Metric,
        threshold: float,
        *,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=f"shoplake: {what}",
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm
