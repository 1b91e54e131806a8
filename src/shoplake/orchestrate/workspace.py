"""The code location Dagster's webserver and daemon load (``-m shoplake.orchestrate.workspace``).

Settings come from shoplake.toml and ``SHOPLAKE_…`` variables; ``SHOPLAKE_ENVIRONMENT`` names
the environment (``local`` unless set).
"""

from __future__ import annotations

import os

from shoplake.orchestrate.definitions import build_definitions
from shoplake.orchestrate.webserver import ENVIRONMENT_VARIABLE
from shoplake.platform import Platform

defs = build_definitions(Platform(), os.environ.get(ENVIRONMENT_VARIABLE, "local"))
