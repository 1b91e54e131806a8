"""Findings and the report that holds them: the vocabulary shared by every pillar."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Pillar = Literal["security", "reliability", "performance", "scalability"]
Severity = Literal["high", "medium", "low", "info"]
PILLARS: tuple[Pillar, ...] = get_args(Pillar)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
#: Higher is worse; ``info`` findings are observations, never a reason to fail.
RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Finding:
    """One observation: what is wrong (or notable), the values that prove it, and the fix."""

    pillar: Pillar
    id: str
    severity: Severity
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    def at_least(self, severity: str) -> bool:
        """Whether this finding is as severe as ``severity`` or worse."""
        return RANK[self.severity] >= RANK[severity]


@dataclass(frozen=True)
class Passed:
    """A check that found nothing wrong, with the values it looked at."""

    pillar: Pillar
    check: str
    detail: str


@dataclass
class Report:
    """Every finding of one assessment, and the checks that passed, for the pillars assessed."""

    pillars: list[Pillar]
    findings: list[Finding] = field(default_factory=list)
    passed: list[Passed] = field(default_factory=list)

    def recorder(self, pillar: Pillar) -> Recorder:
        """A recorder adding one pillar's results to this report."""
        return Recorder(pillar, self)

    def of(self, pillar: Pillar) -> list[Finding]:
        """A pillar's findings, worst first."""
        chosen = [f for f in self.findings if f.pillar == pillar]
        return sorted(chosen, key=lambda f: -RANK[f.severity])

    def counts(self) -> dict[str, int]:
        """How many findings there are of each severity."""
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def fails(self, threshold: str = "high") -> bool:
        """Whether any finding reaches ``threshold`` (the command then exits 1)."""
        return any(f.at_least(threshold) for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: pillars, severity counts and findings."""
        return {
            "pillars": list(self.pillars),
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "passed": [asdict(p) for p in self.passed],
        }


class Recorder:
    """Where one pillar's checks put their findings and the checks that passed."""

    def __init__(self, pillar: Pillar, report: Report) -> None:
        self.pillar = pillar
        self.report = report

    def finding(
        self, id: str, severity: Severity, title: str, evidence: dict[str, Any], fix: str
    ) -> None:
        """Record a finding of this pillar."""
        self.report.findings.append(Finding(self.pillar, id, severity, title, evidence, fix))

    def passed(self, check: str, detail: str) -> None:
        """Record a check that found nothing wrong, saying what it looked at."""
        self.report.passed.append(Passed(self.pillar, check, detail))
