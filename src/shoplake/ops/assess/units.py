"""Numbers and secrets as the report shows them."""

from __future__ import annotations

MIB = 1024 * 1024
GIB = 1024 * MIB


def size(value: float) -> str:
    """A byte count for people: ``512 B``, ``3.1 MiB``, ``2.0 GiB``."""
    number = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(number) < 1024 or unit == "GiB":
            return f"{number:,.0f} {unit}" if unit == "B" else f"{number:,.1f} {unit}"
        number /= 1024
    return f"{number:,.1f} GiB"


def mask_secret(value: str) -> str:
    """A secret as it may be shown: a recognisable prefix, stars and the length, never the
    characters that matter (at most the first 4 of a value of 16 or more characters)."""
    shown = 4 if len(value) >= 16 else 0
    return f"{value[:shown]}***({len(value)} chars)"
