"""The report as text for people, JSON for scripts, or one self-contained, escaped HTML page."""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

from shoplake.cli.output import plural
from shoplake.ops.assess.model import RANK, Finding, Report

TEXT_MARKS = {"high": "HIGH", "medium": "MED ", "low": "LOW ", "info": "info"}
#: Findings at or above this severity make a pillar "not clean" in the summaries.
CLEAN_BELOW = "medium"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    return str(value)


def summary(report: Report) -> str:
    """One line: counts by severity, or that nothing at medium or above was found."""
    counts = report.counts()
    listed = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if not report.fails(CLEAN_BELOW):
        return f"no findings at high/medium severity ({listed or 'nothing to report'})"
    return f"{plural(sum(counts.values()), 'finding')}: {listed}"


def to_text(report: Report, *, passed: bool = True) -> str:
    """Findings per pillar, worst first, each with its evidence and fix; then passed checks."""
    lines: list[str] = []
    for pillar in report.pillars:
        findings = report.of(pillar)
        worst = findings[0].severity if findings else "info"
        state = "clean" if RANK[worst] < RANK[CLEAN_BELOW] else f"worst: {worst}"
        lines.append(f"== {pillar} ({state}) ==")
        for finding in findings:
            lines += _text_finding(finding)
        if passed:
            lines += [f"  ok    {p.check}: {p.detail}" for p in report.passed if p.pillar == pillar]
        lines.append("")
    lines.append(summary(report))
    return "\n".join(lines)


def _text_finding(finding: Finding) -> list[str]:
    lines = [f"  {TEXT_MARKS[finding.severity]}  [{finding.id}] {finding.title}"]
    lines += [f"          {key}: {_value(value)}" for key, value in finding.evidence.items()]
    lines.append(f"          fix: {finding.fix}")
    return lines


def to_json(report: Report) -> str:
    """The report as indented JSON (``pillars``, ``counts``, ``findings``, ``passed``)."""
    return json.dumps(report.to_dict(), indent=2, default=str)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ccc}
.finding{border-left:4px solid #999;padding:.3rem .8rem;margin:.6rem 0;background:#fafafa}
.high{border-color:#c62828}.medium{border-color:#ef6c00}.low{border-color:#f9a825}
.info{border-color:#1565c0}.sev{font-weight:bold;text-transform:uppercase;margin-right:.5rem}
table{border-collapse:collapse;font-size:.9rem}td{padding:.1rem .6rem;vertical-align:top}
td:first-child{color:#555;white-space:nowrap}.fix{margin:.3rem 0}.ok{color:#2e7d32}
"""


def to_html(report: Report) -> str:
    """A single self-contained page (inline CSS, no scripts); every value is escaped."""
    moment = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>shoplake assess</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>shoplake assess</h1>",
        f"<p>{escape(moment)} — {escape(summary(report))}</p>",
    ]
    for pillar in report.pillars:
        parts.append(f"<h2>{escape(pillar)}</h2>")
        parts += [_html_finding(f) for f in report.of(pillar)]
        checks = [p for p in report.passed if p.pillar == pillar]
        if checks:
            items = "".join(
                f"<li><b>{escape(p.check)}</b>: {escape(p.detail)}</li>" for p in checks
            )
            parts.append(f'<ul class="ok">{items}</ul>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_finding(finding: Finding) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(key))}</td><td>{escape(_value(value))}</td></tr>"
        for key, value in finding.evidence.items()
    )
    return (
        f'<div class="finding {escape(finding.severity)}">'
        f'<p><span class="sev">{escape(finding.severity)}</span>{escape(finding.title)} '
        f"<code>{escape(finding.id)}</code></p>"
        f"<table>{rows}</table>"
        f'<p class="fix">Fix: {escape(finding.fix)}</p></div>'
    )


RENDERERS = {"text": to_text, "json": to_json, "html": to_html}
