"""Event-log adapters: one interface (:class:`EventLog`), one module per backend.

``open_event_log(settings)`` picks the backend named by ``stream.backend`` from the registry
below; nothing else branches on the backend.
"""

from __future__ import annotations

import importlib
from typing import Any

from shoplake.streams.base import EventLog, Record, StreamConfig, StreamError, shard_for

BACKENDS: dict[str, str] = {
    "valkey": "shoplake.streams.valkey:ValkeyEventLog",
    "kinesis": "shoplake.streams.kinesis:KinesisEventLog",
}


def open_event_log(settings: Any, *, start: bool = True) -> EventLog:
    """The event log ``settings.stream`` describes (default: the local valkey, started if
    needed; with ``start=False`` a local valkey that is not running raises
    :class:`StreamError` instead)."""
    backend = StreamConfig.from_settings(settings).backend
    target = BACKENDS.get(backend)
    if target is None:
        raise StreamError(
            f"unknown stream.backend {backend!r}: choose one of {', '.join(sorted(BACKENDS))}"
        )
    module, _, name = target.partition(":")
    backend_class = getattr(importlib.import_module(module), name)
    log: EventLog = backend_class.from_settings(settings, start=start)
    return log


__all__ = [
    "BACKENDS",
    "EventLog",
    "Record",
    "StreamConfig",
    "StreamError",
    "open_event_log",
    "shard_for",
]
