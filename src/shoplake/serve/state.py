"""What the API keeps between requests: the platform, the promoted model, the online store.

The promoted model is loaded on first use and reloaded when the registry promotes another
version (checked at most every :data:`RECHECK_SECONDS`). The online store client is an async
valkey client, made per event loop, present only when the store is configured or running.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.serve.pii import masker

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ml.serving import ServingModel
    from shoplake.platform import Platform
    from shoplake.serve.pii import PiiColumns
    from shoplake.streams.base import EventLog
    from shoplake.vectors import VectorIndex

RECHECK_SECONDS = 2.0
#: How long traced PII columns are reused before lineage runs again (new tables, new models).
PII_SECONDS = 300.0
#: The most products one response may hold (``limit`` query parameters).
MAX_ITEMS = 100
#: Response bodies memoized per model (about 1 KiB each).
MAX_BODIES = 50_000


@dataclass(frozen=True)
class LoadedModel:
    """A promoted version with what serving derives from it once: labels and popular items,
    and the response bodies rendered from stored lists (see :meth:`rendered`)."""

    model: ServingModel
    labels: dict[str, tuple[str, str]]  # product code -> (name, line)
    popular: list[tuple[str, float]]  # most popular first: (product code, customers)
    _bodies: dict[tuple[str, int, str, int | None], bytes | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, model: ServingModel) -> LoadedModel:
        codes = [str(code) for code in model.data.products]
        names = model.catalogue["product_name"].to_pylist()
        lines = model.catalogue["product_line"].to_pylist()
        labels = {c: (n or "", ln or "") for c, n, ln in zip(codes, names, lines, strict=True)}
        buyers = model.data.buyers
        order = np.argsort(-buyers, kind="stable")[:MAX_ITEMS]  # ties: product code order
        popular = [(codes[i], float(buyers[i])) for i in order]
        return cls(model, labels, popular)

    @property
    def version(self) -> str:
        return self.model.version

    def knows(self, customer_number: int) -> bool:
        rows = self.model.data.customer_rows(np.asarray([customer_number]))
        return bool(rows[0] >= 0)

    def rendered(
        self, stored: str, k: int, source: str, customer_number: int | None = None
    ) -> bytes | None:
        """The response body for a list kept in the online store: the customer's precomputed
        one or, with ``customer_number``, a session's live one made for that customer. None
        when it holds fewer than ``k`` items or was made for someone else.

        Bodies are memoized by the stored text (at most :data:`MAX_BODIES`), so a repeated
        lookup costs a dict access instead of parsing, labelling and encoding again.
        """
        key = (stored, k, source, customer_number)
        if key in self._bodies:
            return self._bodies[key]
        document = json.loads(stored)
        items = document.get("items") or document.get("recommended_items") or []
        made_for = document.get("customer_number")
        body = None
        if len(items) >= k and (customer_number is None or made_for == customer_number):
            answer = {
                "customer_number": made_for,
                "source": source,
                "model_version": document["model_version"],
                "items": [self.item(i["product_code"], i["score"]) for i in items[:k]],
            }
            body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()
        if len(self._bodies) >= MAX_BODIES:
            self._bodies.clear()
        self._bodies[key] = body
        return body

    def item(self, product_code: str, score: float) -> dict[str, Any]:
        name, line = self.labels.get(product_code, ("", ""))
        return {
            "product_code": product_code,
            "product_name": name,
            "product_line": line,
            "score": score,
        }


class ServeState:
    """Backends and caches shared by every request of one app."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings: Settings = platform.settings
        self._loaded: LoadedModel | None = None
        self._checked = 0.0
        self._store: Any = None
        self._store_loop: asyncio.AbstractEventLoop | None = None
        self._store_url: str | None = None
        self._store_checked = -RECHECK_SECONDS
        self._products: frozenset[str] | None = None
        self._products_checked = -RECHECK_SECONDS
        self._index: VectorIndex | None = None
        self._event_log: EventLog | None = None
        self._lock = threading.Lock()
        self._pii: tuple[float, PiiColumns] | None = None
        self.mask = masker()

    # The promoted model -------------------------------------------------------------------

    def promoted_version(self) -> str | None:
        from shoplake.ml.registry import Registry

        return Registry(self.settings.models_dir).promoted()

    def model(self) -> LoadedModel | None:
        """The promoted model (None before the first promotion); cheap after the first call."""
        now = time.monotonic()
        if self._loaded is not None and now - self._checked < RECHECK_SECONDS:
            return self._loaded
        self._checked = now
        version = self.promoted_version()
        if version is None:
            self._loaded = None
        elif self._loaded is None or self._loaded.version != version:
            from shoplake.ml.serving import load_version

            self._loaded = LoadedModel.of(load_version(self.settings, version))
        return self._loaded

    def item_index(self) -> VectorIndex:
        """The vector index of item embeddings, opened once (it follows republications)."""
        if self._index is None:
            from shoplake.ml.serving import ITEM_INDEX
            from shoplake.vectors import open_vector_index

            self._index = open_vector_index(self.settings, ITEM_INDEX)
        return self._index

    # The online store ---------------------------------------------------------------------

    def store_url(self) -> str | None:
        """The online store's URL when configured or running (rechecked while it is down)."""
        now = time.monotonic()
        if self._store_url is None and now - self._store_checked >= RECHECK_SECONDS:
            from shoplake.ml.live import running_online_store

            self._store_checked = now
            self._store_url = running_online_store(self.settings)
        return self._store_url

    def store(self) -> Any:
        """An async valkey client for this event loop, or None when there is no store."""
        loop = asyncio.get_running_loop()
        if self._store is not None and self._store_loop is loop:
            return self._store
        url = self.store_url()
        if url is None:
            return None
        import valkey.asyncio as valkey_async

        self._store = valkey_async.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=1, decode_responses=True
        )
        self._store_loop = loop
        return self._store

    async def close(self) -> None:
        if self._event_log is not None:
            self._event_log.close()
            self._event_log = None
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._store is not None:
            await self._store.aclose()
            self._store = self._store_loop = None

    def event_log(self) -> EventLog:
        """The event log, opened on first use and kept (its client is thread-safe).

        The API never starts a server: with the local valkey as the log, it must be running.
        """
        with self._lock:
            if self._event_log is None:
                stream = self.settings.stream
                if stream.backend == "valkey" and stream.url is None and not self.store_url():
                    from shoplake.streams import StreamError

                    raise StreamError("the event log (valkey) is not running: `shoplake up`")
                self._event_log = self.platform.event_log()
            return self._event_log

    # PII ------------------------------------------------------------------------------------

    def pii(self) -> PiiColumns:
        """PII columns of every table, traced by lineage (again after :data:`PII_SECONDS`)."""
        with self._lock:
            now = time.monotonic()
            if self._pii is None or now - self._pii[0] >= PII_SECONDS:
                from shoplake.serve.pii import trace

                self._pii = (now, trace(self.platform.catalog, self.platform.project()))
            return self._pii[1]

    # Product codes events may name ---------------------------------------------------------

    def known_products(self) -> frozenset[str] | None:
        """Product codes of the lakehouse (None before the first ingest), refreshed now and then."""
        now = time.monotonic()
        if now - self._products_checked >= 30 * RECHECK_SECONDS:
            from shoplake.ingest.stream_workers import known_products

            self._products = known_products(self.platform.catalog)
            self._products_checked = now
        return self._products
