"""The recommender's errors, each one line naming what is missing and what to run."""

from __future__ import annotations

from shoplake.errors import ShoplakeError


class ModelError(ShoplakeError):
    """A model cannot be trained, found or used (no data, no version, unknown id)."""
