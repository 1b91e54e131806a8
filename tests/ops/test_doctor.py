"""The doctor's framework: layer order, stop at the first failure, skips, JSON and text."""

from __future__ import annotations

import json

from shoplake.cli.ops import render
from shoplake.ops.doctor import (
    LAYERS,
    Failed,
    Measured,
    NotListening,
    Probe,
    Skipped,
    diagnose,
    misconfigured,
    run_probe,
)


class Scripted(Probe):
    """A probe whose layers answer from a script: a detail, a Skipped or a Failed."""

    def __init__(self, name: str, target: str, **script: object) -> None:
        super().__init__(name, target)
        self.script = script
        self.called: list[str] = []
        self.closed = False

    def _answer(self, layer: str) -> str | Measured:
        self.called.append(layer)
        outcome = self.script.get(layer, f"{layer} fine")
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, str | Measured)
        return outcome

    def dns(self) -> str | Measured:
        return self._answer("dns")

    def tcp(self) -> str | Measured:
        return self._answer("tcp")

    def tls(self) -> str | Measured:
        return self._answer("tls")

    def auth(self) -> str | Measured:
        return self._answer("auth")

    def permission(self) -> str | Measured:
        return self._answer("permission")

    def latency(self) -> str | Measured:
        return self._answer("latency")

    def close(self) -> None:
        self.closed = True


def test_layers_run_in_order_and_stop_at_the_first_failure() -> None:
    probe = Scripted(
        "db",
        "postgresql://app:hunter2@db:5432/shop",
        tls=Skipped("not requested"),
        auth=Failed("password authentication failed for user app", "fix source.url"),
    )
    report = run_probe(probe)
    assert probe.called == ["dns", "tcp", "tls", "auth"]
    assert probe.closed
    assert [(r.layer, r.status) for r in report.layers] == [
        ("dns", "ok"),
        ("tcp", "ok"),
        ("tls", "skipped"),
        ("auth", "fail"),
    ]
    assert report.layers[2].detail == "not requested"
    document = report.to_dict()
    assert document["status"] == "fail"
    assert document["failed_layer"] == "auth"
    assert document["problem"] == "password authentication failed for user app"
    assert document["fix"] == "fix source.url"
    assert document["target"] == "postgresql://app:***@db:5432/shop"
    assert "hunter2" not in json.dumps(document)


def test_all_layers_pass_and_latency_keeps_its_figure() -> None:
    report = run_probe(Scripted("api", "http://x", latency=Measured("median 4 ms", 4.0)))
    assert report.ok and report.failed_layer is None
    assert [r.layer for r in report.layers] == list(LAYERS)
    assert report.latency_ms == 4.0
    assert set(report.to_dict()) >= {
        "endpoint", "target", "status", "layers", "failed_layer", "problem", "fix"
    }  # fmt: skip


def test_an_unexpected_error_is_a_failure_with_the_secret_masked() -> None:
    boom = RuntimeError("cannot open redis://:topsecret@h:1/0")
    report = run_probe(Scripted("log", "redis://h:1/0", permission=boom))
    assert report.failed_layer == "permission"
    assert report.problem == (
        "permission check failed unexpectedly: RuntimeError: cannot open redis://:***@h:1/0"
    )


def test_unusable_settings_fail_before_any_layer() -> None:
    report = run_probe(misconfigured("vectors", "", "vectors.url is not PostgreSQL", "set it"))
    assert [(r.layer, r.status) for r in report.layers] == [("config", "fail")]
    assert (report.problem, report.fix) == ("vectors.url is not PostgreSQL", "set it")


def test_reports_keep_the_order_of_the_probes() -> None:
    names = [f"e{i}" for i in range(6)]
    reports = diagnose([Scripted(n, "x") for n in names])
    assert [r.endpoint for r in reports] == names


def test_text_rendering() -> None:
    failing = Scripted("event-log", "redis://:pw@127.0.0.1:6390/0", dns=Skipped("IP"))
    failing.script["tcp"] = Failed("connection refused on 127.0.0.1:6390", "run `shoplake up`")
    noted = Scripted("api", "http://127.0.0.1:8000", latency=Measured("m", 1.25))
    noted.warning = "API key not probed"
    lines = [line.plain for line in render(diagnose([failing, noted]))]
    assert lines == [
        "✗ event-log  redis://:***@127.0.0.1:6390/0  dns– tcp✗",
        "    problem (tcp): connection refused on 127.0.0.1:6390",
        "    fix:           run `shoplake up`",
        "! api        http://127.0.0.1:8000          "
        "dns✓ tcp✓ tls✓ auth✓ permission✓ latency✓  1.2 ms",
        "    note:    API key not probed",
        "2 endpoints: 1 ok (1 with notes), 1 failing: event-log",
    ]


def _stopped(name: str, on_demand: str | None) -> Scripted:
    refused = NotListening("connection refused on 127.0.0.1:8000: nothing listens there", "run it")
    probe = Scripted(name, "http://127.0.0.1:8000", dns=Skipped("IP"), tcp=refused)
    probe.on_demand = on_demand
    return probe


def test_an_on_demand_server_not_running_is_not_a_failure() -> None:
    report = run_probe(_stopped("api", "shoplake serve"))
    assert report.ok and report.status == "not running"
    assert report.start == "shoplake serve" and report.failed_layer is None
    assert [(r.layer, r.status) for r in report.layers] == [("dns", "skipped"), ("tcp", "skipped")]
    assert report.layers[1].detail == (
        "not running: connection refused on 127.0.0.1:8000: nothing listens there"
    )
    document = report.to_dict()
    assert (document["status"], document["start"], document["problem"]) == (
        "not running", "shoplake serve", None
    )  # fmt: skip


def test_without_a_start_command_nothing_listening_fails() -> None:
    report = run_probe(_stopped("api", None))
    assert not report.ok and report.status == "fail" and report.start is None
    assert (report.failed_layer, report.fix) == ("tcp", "run it")


def test_other_failures_of_an_on_demand_server_still_fail() -> None:
    probe = _stopped("api", "shoplake serve")
    probe.script["tcp"] = "connected"
    probe.script["auth"] = Failed("GET /health answered 404: not the shoplake API", "fix it")
    report = run_probe(probe)
    assert report.status == "fail" and report.failed_layer == "auth" and report.start is None


def test_text_rendering_of_a_server_not_running() -> None:
    lines = [line.plain for line in render(diagnose([_stopped("api", "shoplake serve")]))]
    assert lines == [
        "○ api  http://127.0.0.1:8000  dns– tcp–",
        "    not running — start it with `shoplake serve`",
        "1 endpoint: 0 ok, 1 not running",
    ]
