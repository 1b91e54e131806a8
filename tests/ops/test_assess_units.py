"""The parts of `shoplake assess` that compute: growth, capacity, secrets, sockets, rendering,
and the reliability checks over real Iceberg tables."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pyarrow as pa
import pytest

from shoplake.config import CONFIG_FILE_ENV, load_settings
from shoplake.ops.assess import assess
from shoplake.ops.assess.binding import listening
from shoplake.ops.assess.capacity import Capacity, judge
from shoplake.ops.assess.context import Context
from shoplake.ops.assess.history import DAY_MS, SnapshotPoint, added_since, growth
from shoplake.ops.assess.model import Finding, Report
from shoplake.ops.assess.render import to_html, to_text
from shoplake.ops.assess.retention import check_retention
from shoplake.ops.assess.secrets_scan import classify
from shoplake.platform import Platform


def _point(day: float, records: int, added: int = 0, *, maintenance: bool = False) -> SnapshotPoint:
    return SnapshotPoint(
        timestamp_ms=int(day * DAY_MS),
        records=records,
        bytes=records * 10,
        files=1,
        added_records=added,
        operation="append",
        maintenance=maintenance,
    )


def test_growth_needs_a_day_of_history_and_counts_appends_only() -> None:
    assert growth([_point(0, 100), _point(0.5, 200)]) is None
    rate = growth([_point(0, 100), _point(1, 200), _point(2, 400)])
    assert rate is not None
    assert (rate.rows_per_day, rate.bytes_per_day, rate.span_days) == (150, 1500, 2)
    points = [_point(0, 10, 10), _point(1, 30, 20), _point(1.5, 30, 30, maintenance=True)]
    assert added_since(points, DAY_MS) == 20


@pytest.mark.parametrize(
    ("current", "per_day", "severity"),
    [
        (10, None, None),  # not growing
        (10, 0.1, None),  # 900 days left
        (50, 0.5, "low"),  # 100 days
        (80, 1, "medium"),  # 20 days
        (95, 1, "high"),  # 5 days
        (100, None, "high"),  # reached
    ],
)
def test_capacity_is_reported_by_days_left(
    current: float, per_day: float | None, severity: str | None
) -> None:
    report = Report(pillars=["scalability"])
    capacity = Capacity("capacity-x", "x", current, 100, per_day, "bytes", "a source", "y")
    judge(capacity, report.recorder("scalability"))
    if severity is None:
        assert not report.findings
        assert report.passed[0].detail.endswith("(a source)")
    else:
        (finding,) = report.findings
        assert (finding.severity, finding.fix) == (severity, "move to y")


def test_secrets_are_recognised_and_local_defaults_are_not() -> None:
    assert classify("doctor.api_key", "slk_" + "a" * 43) == "shoplake API key"
    assert classify("notes", "see slk_" + "b" * 43) == "shoplake API key"
    assert classify("source.url", "postgresql://u:pw@h/db") == "password in a URL"
    assert classify("source.url", "postgresql://u@h/db") is None
    assert classify("supplier.client_secret", "local-supplier-secret") is None
    assert classify("supplier.client_secret", "other") == "secret"
    assert classify("supplier.clients.acme.secret", "x") == "secret"


def test_listening_sockets_of_a_process_are_read_from_proc() -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert ("127.0.0.1", port) in listening(os.getpid())


def test_the_exit_threshold_counts_findings_at_or_above_it() -> None:
    low = Finding("performance", "x", "low", "t", {}, "f")
    report = Report(pillars=["performance"], findings=[low])
    assert not report.fails("high") and not report.fails("medium") and report.fails("low")
    assert report.counts() == {"high": 0, "medium": 0, "low": 1, "info": 0}


def test_html_escapes_every_value() -> None:
    finding = Finding("security", "x<y", "high", "<script>alert(1)</script>", {"<k>": "a&b"}, "f")
    report = Report(pillars=["security"], findings=[finding])
    page = to_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;k&gt;" in page and "a&amp;b" in page
    assert "HIGH  [x<y] <script>" in to_text(report)


def test_snapshots_past_retention_are_flagged(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **{"lake.snapshot_retention_hours": 24})
    ctx = Context(settings)
    now_days = time.time() * 1000 / DAY_MS
    ctx.__dict__["table_names"] = ["bronze.old", "bronze.fresh"]
    ctx._history = {
        "bronze.old": [_point(now_days - 5, 1), _point(now_days - 3, 2), _point(now_days, 3)],
        "bronze.fresh": [_point(now_days - 5, 1)],  # the only snapshot is always kept
    }
    report = Report(pillars=["reliability"])
    check_retention(ctx, report.recorder("reliability"))
    (finding,) = report.findings
    assert finding.id == "snapshots-past-retention"
    assert list(finding.evidence) == ["bronze.old"]
    assert finding.evidence["bronze.old"].startswith("3 snapshots, 2 past retention")


def test_missing_ingest_state_and_dead_letters_are_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "absent.toml"))
    platform = Platform(data_dir=tmp_path)
    catalog = platform.catalog
    rows = pa.table({"id": pa.array(range(90), pa.int64())})
    catalog.create_table("bronze.customers", schema=rows.schema).append(rows)
    catalog.create_table("bronze.events", schema=rows.schema).append(rows)
    dead = pa.table({"payload": [f"bad {i}" for i in range(10)]})
    catalog.create_table("bronze.dead_letters", schema=dead.schema).append(dead)
    report = assess(platform.settings, ["reliability"], catalog=catalog)
    found = {f.id: f for f in report.findings}
    state = found["ingest-state-missing"]
    assert state.severity == "high"
    no_positions = "no stream positions (shoplake.stream.position.<backend>.<shard>)"
    assert state.evidence == {
        "bronze.customers": "no shoplake.ingest.state property",
        "bronze.dead_letters": no_positions,
        "bronze.events": no_positions,
    }
    share = found["dead-letters-share"]
    assert share.severity == "high"
    assert share.evidence["share"] == "10.00%"
    assert share.evidence["dead letters"] == 10
