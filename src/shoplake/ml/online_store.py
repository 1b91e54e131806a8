"""Precomputed recommendations in the online store, for lookups in well under a millisecond.

Each customer's list from ``gold.recommendations`` is one JSON string under
``recs:customer:<customer_number>``: ``{"customer_number", "model_version", "items":
[{"product_code", "score"}]}``. The promoted model's lists replace the previous ones key by key;
no expiry (they are valid until the next promotion).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from shoplake.ml.realtime import CUSTOMER_RECS_PREFIX

if TYPE_CHECKING:
    import pyarrow as pa

PIPELINE_CHUNK = 2_000


def push_recommendations(client: Any, recommendations: pa.Table) -> int:
    """Store every customer's list (rows of ``gold.recommendations``); returns customers."""
    lists: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
    versions: dict[int, str] = {}
    columns = recommendations.select(
        ["customer_number", "rank", "product_code", "score", "model_version"]
    ).to_pydict()
    for customer, rank, code, score, version in zip(*columns.values(), strict=True):
        lists[customer].append((rank, code, score))
        versions[customer] = version
    customers = sorted(lists)
    for start in range(0, len(customers), PIPELINE_CHUNK):
        write = client.pipeline(transaction=False)
        for customer in customers[start : start + PIPELINE_CHUNK]:
            items = [
                {"product_code": c, "score": round(s, 6)} for _, c, s in sorted(lists[customer])
            ]
            document = {
                "customer_number": customer,
                "model_version": versions[customer],
                "items": items,
            }
            write.set(f"{CUSTOMER_RECS_PREFIX}{customer}", json.dumps(document))
        write.execute()
    return len(customers)


def lookup(client: Any, customer_number: int) -> dict[str, Any] | None:
    """A customer's precomputed list from the online store, or None when it has none."""
    stored = client.get(f"{CUSTOMER_RECS_PREFIX}{customer_number}")
    return json.loads(stored) if stored else None
