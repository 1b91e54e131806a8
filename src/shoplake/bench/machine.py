"""Facts about the machine a benchmark ran on, for the header of every benchmark report."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

#: Packages whose versions decide most benchmark figures.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "shoplake",
    "pyiceberg",
    "pyiceberg-core",
    "duckdb",
    "pyarrow",
    "sqlalchemy",
    "adbc-driver-manager",
    "adbc-driver-sqlite",
    "adbc-driver-postgresql",
    "dlt",
)


@dataclass(frozen=True)
class MachineFacts:
    """CPU, memory, OS, Python and package versions of the current machine."""

    cpu: str
    logical_cores: int
    usable_cores: int
    ram_bytes: int | None
    os: str
    python: str
    packages: dict[str, str] = field(default_factory=dict)
    commit: str | None = None

    def markdown(self) -> str:
        """A Markdown bullet list, ready to paste under a report's "Machine" heading."""
        ram = f"{self.ram_bytes / 1024**3:.1f} GiB" if self.ram_bytes else "unknown"
        versions = ", ".join(f"{name} {version}" for name, version in self.packages.items())
        lines = [
            f"- CPU: {self.cpu}",
            f"- cores: {self.logical_cores} logical, {self.usable_cores} usable by this process",
            f"- RAM: {ram}",
            f"- OS: {self.os}",
            f"- Python: {self.python}",
            f"- packages: {versions}",
        ]
        if self.commit:
            lines.append(f"- shoplake commit: {self.commit}")
        return "\n".join(lines)


def collect_machine_facts(packages: tuple[str, ...] = DEFAULT_PACKAGES) -> MachineFacts:
    """Read the machine's facts (cheap: no benchmark of its own)."""
    return MachineFacts(
        cpu=cpu_model(),
        logical_cores=os.cpu_count() or 1,
        usable_cores=_usable_cores(),
        ram_bytes=ram_bytes(),
        os=platform.platform(),
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        packages=package_versions(packages),
        commit=_git_commit(),
    )


def cpu_model() -> str:
    """The CPU's marketing name (``model name`` in /proc/cpuinfo on Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    if sys.platform == "darwin":
        found = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if found:
            return found
    return platform.processor() or platform.machine() or "unknown"


def ram_bytes() -> int | None:
    """Total physical memory, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        found = _run(["sysctl", "-n", "hw.memsize"])
        return int(found) if found and found.isdigit() else None


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each package (``not installed`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _git_commit() -> str | None:
    """The short commit of the shoplake checkout (with ``+dirty`` for local edits), if any."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    commit = _run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    if commit and _run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"]):
        commit += "+dirty"
    return commit


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
