"""Container images built from this repository: the API (Fargate) and the stream processor
(Lambda). Both install the shoplake package with its dependencies; only the package, its
metadata and the image's own folder are sent as build context."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
API_DOCKERFILE = "infra/aws/api/Dockerfile"
PROCESSOR_DOCKERFILE = "infra/aws/processor/Dockerfile"


def build_context(image_folder: str) -> list[str]:
    """Docker-ignore patterns: everything but the package, its metadata and ``image_folder``."""
    return [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!src",
        f"!{image_folder}",
        "**/__pycache__",
        "**/*.pyc",
        "**/*.egg-info",
    ]
