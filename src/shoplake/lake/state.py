"""Ingestion state kept inside the bronze table it describes.

The state (batch sequence, cursor watermark) is a table property written in the same Iceberg
commit as the rows it accounts for, and copied into that snapshot's summary for audit. Table
properties survive snapshot expiry; a crash before the commit leaves both data and state as
they were, so a re-run repeats exactly the lost work.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.table import Table

STATE_PROPERTY = "shoplake.ingest.state"
SUMMARY_PREFIX = "shoplake."


@dataclass
class IngestState:
    """What the last committed ingest of one bronze table reached."""

    batch_id: int = 0
    strategy: str = ""
    cursor: str | None = None
    watermark: Any = None
    primary_key: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["watermark"] = encode_value(self.watermark)
        return json.dumps(payload, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IngestState:
        payload = json.loads(text)
        payload["watermark"] = decode_value(payload.get("watermark"))
        return cls(**payload)


def encode_value(value: Any) -> dict[str, Any] | None:
    """A typed JSON form of a watermark, so it round-trips to the same Python value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    return {"type": "str", "value": str(value)}


def decode_value(payload: dict[str, Any] | None) -> Any:
    """Inverse of :func:`encode_value`."""
    if payload is None:
        return None
    kind, value = payload["type"], payload["value"]
    decoders: dict[str, Any] = {
        "bool": bool,
        "int": int,
        "float": float,
        "decimal": Decimal,
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "str": str,
    }
    return decoders[kind](value)


def read_state(table: Table) -> IngestState | None:
    """The state committed with the table's data, or None before the first ingest."""
    text = table.properties.get(STATE_PROPERTY)
    return IngestState.from_json(text) if text else None


def display_watermark(value: Any) -> str:
    """A watermark as a short human-readable string."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)
