"""Build the shoplake CDK app: the stacks, their parameters and their dependencies."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Tags

from shoplake_infra.api import ApiStack
from shoplake_infra.config import InfraConfig
from shoplake_infra.lakehouse import LakehouseStack
from shoplake_infra.monitoring import MonitoringStack
from shoplake_infra.network import NetworkStack
from shoplake_infra.processor import StreamProcessorStack
from shoplake_infra.stores import StoresStack

INFRA_DIR = Path(__file__).resolve().parents[1]
CDK_JSON = INFRA_DIR / "cdk.json"
DEFAULT_OUTDIR = INFRA_DIR / "cdk.out"


def cdk_json_context() -> dict[str, Any]:
    """The context of ``cdk.json`` (feature flags and defaults). The CDK CLI passes it to
    the app itself; running ``python app.py`` directly needs it read here."""
    if not CDK_JSON.exists():
        return {}
    context: dict[str, Any] = json.loads(CDK_JSON.read_text()).get("context", {})
    return context


def build_app(context: dict[str, Any] | None = None, outdir: str | Path | None = None) -> App:
    """The app with ``cdk.json``'s context overlaid by ``context``. Under the CDK CLI its
    own ``-c`` values and output directory win (they arrive through the environment)."""
    merged = cdk_json_context() | (context or {})
    if "CDK_OUTDIR" in os.environ:  # the CLI chose the directory
        app = App(context=merged)
    else:
        app = App(context=merged, outdir=str(outdir or DEFAULT_OUTDIR))
    config = InfraConfig.from_context(app.node)
    add_stacks(app, config)
    return app


def add_stacks(app: App, config: InfraConfig) -> dict[str, Any]:
    """Create every stack; returns them by id."""
    env = _environment(config)

    def name(part: str) -> str:
        return config.name(part)

    network = NetworkStack(app, "Network", stack_name=name("network"), config=config, env=env)
    lakehouse = LakehouseStack(
        app, "Lakehouse", stack_name=name("lakehouse"), config=config, env=env
    )
    stores = StoresStack(
        app, "Stores", stack_name=name("stores"), config=config, network=network, env=env
    )
    processor = StreamProcessorStack(
        app,
        "Processor",
        stack_name=name("processor"),
        config=config,
        network=network,
        lakehouse=lakehouse,
        stores=stores,
        env=env,
    )
    api = ApiStack(
        app,
        "Api",
        stack_name=name("api"),
        config=config,
        network=network,
        lakehouse=lakehouse,
        stores=stores,
        env=env,
    )
    monitoring = MonitoringStack(
        app,
        "Monitoring",
        stack_name=name("monitoring"),
        config=config,
        lakehouse=lakehouse,
        processor=processor,
        api=api,
        env=env,
    )
    Tags.of(app).add("project", "shoplake")
    Tags.of(app).add("environment", config.environment)
    return {
        "network": network,
        "lakehouse": lakehouse,
        "stores": stores,
        "processor": processor,
        "api": api,
        "monitoring": monitoring,
    }


def _environment(config: InfraConfig) -> Environment | None:
    """Pinned account/region from context, else the CLI's defaults, else env-agnostic."""
    account = config.account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    if account is None and region is None:
        return None
    return Environment(account=account, region=region)
