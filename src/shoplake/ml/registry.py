"""The model registry: one directory per trained version under ``<data_dir>/models``.

::

    models/
      v0001/            artifacts (see serving.py), model.json, metrics.json, config.json,
      v0002/            snapshots.json (the lakehouse snapshot ids it was trained on)
      promoted          the version serving uses, one line
      .tmp-…/           a version being written (ignored; left behind only by a killed run)

A version is written into a temporary directory and renamed into place only when complete, so
a training killed half-way leaves no half version; versions are numbered in order (``v0001``,
``v0002``, …) and a version number taken by a concurrent training is skipped. The ``promoted``
pointer is replaced atomically too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from shoplake.ml.errors import ModelError

VERSION: Final = re.compile(r"^v(\d{4,})$")
PROMOTED: Final = "promoted"
#: JSON documents of a version: attribute name -> file.
DOCUMENTS: Final = {
    "summary": "model.json",
    "metrics": "metrics.json",
    "config": "config.json",
    "snapshots": "snapshots.json",
}
NOT_TRAINED: Final = "no model trained yet: run `shoplake train`"


@dataclass(frozen=True)
class ModelInfo:
    """One registered version and its documents."""

    version: str
    path: Path
    promoted: bool
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    config: dict[str, Any]
    snapshots: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "promoted": self.promoted,
            **self.summary,
            "metrics": self.metrics,
            "config": self.config,
            "snapshots": self.snapshots,
        }


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


class Registry:
    """Versions under one models directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self) -> list[str]:
        """Registered versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if p.is_dir() and VERSION.match(p.name)]
        return sorted(found, key=_number)

    def path(self, version: str) -> Path:
        """The directory of an existing version."""
        if version not in self.versions():
            known = ", ".join(self.versions()) or "none — run `shoplake train`"
            raise ModelError(f"no model version {version!r} (versions: {known})")
        return self.root / version

    def info(self, version: str) -> ModelInfo:
        path = self.path(version)
        documents: dict[str, Any] = {}
        for name, file in DOCUMENTS.items():
            try:
                documents[name] = json.loads((path / file).read_text())
            except (OSError, ValueError) as exc:
                raise ModelError(f"model {version}: cannot read {file}: {exc}") from None
        return ModelInfo(version, path, version == self.promoted(), **documents)

    def list(self) -> list[ModelInfo]:
        return [self.info(v) for v in self.versions()]

    def promoted(self) -> str | None:
        """The promoted version, or None before the first promotion."""
        try:
            version = (self.root / PROMOTED).read_text().strip()
        except FileNotFoundError:
            return None
        return version or None

    def require_promoted(self) -> str:
        version = self.promoted()
        if version is None:
            raise ModelError(NOT_TRAINED)
        return version

    def promote(self, version: str) -> None:
        """Point serving at ``version`` (atomically replaces the pointer)."""
        self.path(version)
        handle, temporary = tempfile.mkstemp(prefix=".promoted-", dir=self.root)
        with os.fdopen(handle, "w") as file:
            file.write(version + "\n")
        os.replace(temporary, self.root / PROMOTED)

    def save(self, write: Callable[[Path], None]) -> str:
        """Run ``write(directory)`` into a fresh temporary directory, then publish it as the
        next version and return its name. Nothing is registered if ``write`` fails."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            write(staging)
            while True:
                version = self._next_version()
                try:
                    staging.rename(self.root / version)
                except OSError:
                    if (self.root / version).exists():
                        continue  # taken by a concurrent training: take the next number
                    raise
                return version
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _next_version(self) -> str:
        versions = self.versions()
        return f"v{(_number(versions[-1]) + 1 if versions else 1):04d}"


def _number(version: str) -> int:
    match = VERSION.match(version)
    return int(match.group(1)) if match else -1
