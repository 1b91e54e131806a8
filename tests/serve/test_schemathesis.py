"""Requests generated from the OpenAPI schema never get a 5xx answer.

For every operation of ``/openapi.json``, schemathesis draws path parameters, query strings and
bodies (SQL text, event batches…) — valid ones and ones that break the schema — and sends them
with an admin key through the ASGI app. The online store runs, so accepted events have a log to
land on. A few examples per operation keep the run to seconds.

(The operations are walked here rather than with ``schemathesis.pytest.from_fixture``, whose
lazy loader reaches into a pytest private attribute that pytest 9 no longer has.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from tests.serve.conftest import with_serve

pytestmark = pytest.mark.integration
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}


def test_no_server_errors(lakehouse: Platform, online_store: str, api_keys: dict[str, str]) -> None:
    relaxed = with_serve(lakehouse.settings, rate_limit_per_second=1e6, rate_limit_burst=10**6)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(relaxed))
    headers = {"X-API-Key": api_keys["admin"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/recommendations/{customer_number}", "/products/{product_code}/similar", "/events",
        "/tables", "/tables/{namespace}/{name}", "/query", "/health", "/metrics",
    }  # fmt: skip
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            try:
                no_server_error()
            except Unsatisfiable:
                # Nothing to break: the operation takes no parameters and no body.
                assert mode is GenerationMode.NEGATIVE, operation.label
