"""Request metrics and their Prometheus text exposition (format 0.0.4).

A pure ASGI middleware counts every HTTP request by method, route template and status and
observes its latency in a histogram. Routes without a template (``/openapi.json``, ``/docs``)
are labelled by their fixed path, other answers without a template (static files) ``other``,
and paths no route matched ``unmatched``, so that scanners cannot grow the label set. Event and
rate-limit counters are kept alongside.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Latency bucket upper bounds, seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """Cumulative-on-render histogram: per-bucket counts, sum and count."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Counters and histograms of one app."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str, int], Histogram] = defaultdict(Histogram)
        self.events_accepted = 0
        self.events_rejected = 0
        #: Paths of routes that have no template, labelled as themselves.
        self.fixed_paths: frozenset[str] = frozenset()

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, status)
        self.requests[labels] += 1
        self.latency[labels].observe(seconds)

    def render(self, rate_limited: int) -> str:
        """The exposition text; ``rate_limited`` counts requests the rate limiter refused."""
        lines = [
            "# HELP shoplake_http_requests_total HTTP requests by method, route and status.",
            "# TYPE shoplake_http_requests_total counter",
        ]
        for labels, count in sorted(self.requests.items()):
            lines.append(f"shoplake_http_requests_total{{{_labels(labels)}}} {count}")
        lines += [
            "# HELP shoplake_http_request_duration_seconds HTTP request latency.",
            "# TYPE shoplake_http_request_duration_seconds histogram",
        ]
        histogram_name = "shoplake_http_request_duration_seconds"
        for labels, histogram in sorted(self.latency.items()):
            common = _labels(labels)
            cumulative = 0
            for bound, count in zip((*BUCKETS, "+Inf"), histogram.counts, strict=True):
                cumulative += count
                lines.append(f'{histogram_name}_bucket{{{common},le="{bound}"}} {cumulative}')
            lines.append(f"{histogram_name}_sum{{{common}}} {histogram.total}")
            lines.append(f"{histogram_name}_count{{{common}}} {cumulative}")
        counters = (
            ("events_accepted", "Events accepted onto the log.", self.events_accepted),
            ("events_rejected", "Events refused by validation.", self.events_rejected),
            ("rate_limited", "Requests refused by a key's rate limit.", rate_limited),
        )
        for short, help_text, value in counters:
            name = f"shoplake_{short}_total"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: tuple[str, str, int]) -> str:
    method, route, status = labels
    return f'method="{_escape(method)}",route="{_escape(route)}",status="{status}"'


class MetricsMiddleware:
    """Times every HTTP request and records it by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None)
            if template is None:
                path = scope.get("path", "")
                if path in self.metrics.fixed_paths:
                    template = path
                else:
                    template = "unmatched" if status == 404 else "other"
            self.metrics.record(scope["method"], template, status, time.perf_counter() - started)
