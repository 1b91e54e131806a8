"""What the API keeps between requests: the platform, the promoted model, the online store.

The promoted model is loaded on first use (the app's start-up); from then on a background
thread follows the registry and swaps in a newly promoted version (checked every
:data:`RECHECK_SECONDS`), so a request never reads the registry or loads anything. Once the
first model is loaded, everything the process holds is frozen out of the garbage collector's
reach (:func:`gc.freeze`): a full collection then scans only what requests allocate, instead
of stalling the event loop for tens of milliseconds over every imported library. The online
store client is an async valkey client, made per event loop, present only when the store is
configured or running.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from shoplake.serve.pii import masker

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ml.serving import ServingModel
    from shoplake.platform import Platform
    from shoplake.serve.pii import PiiColumns
    from shoplake.streams.base import EventLog
    from shoplake.vectors import VectorIndex

log = logging.getLogger(__name__)
T = TypeVar("T")

RECHECK_SECONDS = 2.0
#: The name of the thread that follows promotions (off the request path).
WATCHER_THREAD = "shoplake-model-watcher"
#: How long traced PII columns are reused before lineage runs again (new tables, new models).
PII_SECONDS = 300.0
#: The most products one response may hold (``limit`` query parameters).
MAX_ITEMS = 100
#: Response bodies memoized per model (about 1 KiB each).
MAX_BODIES = 50_000


class _FrozenHeap:
    """The process's :func:`gc.freeze`, shared by every app in it: the first holder collects
    and freezes, each later one freezes what was added since, the last to release unfreezes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0

    def hold(self) -> None:
        with self._lock:
            if self._holders == 0:
                gc.collect()
            gc.freeze()
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                gc.unfreeze()


_HEAP = _FrozenHeap()


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


class KeySlots:
    """At most ``limit`` requests in flight per API key (taken and given back on the event
    loop, so no lock is needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy: dict[str, int] = {}

    def take(self, key_id: str) -> bool:
        """Take a slot for ``key_id``; False when its ``limit`` are all taken."""
        busy = self._busy.get(key_id, 0)
        if busy >= self.limit:
            return False
        self._busy[key_id] = busy + 1
        return True

    def in_flight(self) -> int:
        """Slots taken now, over every key."""
        return sum(self._busy.values())

    def give(self, key_id: str) -> None:
        """Give back a slot :meth:`take` handed out."""
        busy = self._busy.get(key_id, 0) - 1
        if busy > 0:
            self._busy[key_id] = busy
        else:
            self._busy.pop(key_id, None)


class ServeState:
    """Backends and caches shared by every request of one app."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings: Settings = platform.settings
        self._loaded: LoadedModel | None = None
        self._model_looked_up = False
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._model_lock = threading.Lock()
        self._froze_heap = False
        self._store: Any = None
        self._store_loop: asyncio.AbstractEventLoop | None = None
        self._store_url: str | None = None
        self._store_looked_up = False
        self._products: frozenset[str] | None = None
        self._products_checked = -RECHECK_SECONDS
        self._index: VectorIndex | None = None
        self._event_log: EventLog | None = None
        self._lock = threading.Lock()
        self._pii: tuple[float, PiiColumns] | None = None
        self.mask = masker()
        self.query_slots = KeySlots(self.settings.query.concurrent_per_key)
        self._query_pool: ThreadPoolExecutor | None = None

    # The promoted model -------------------------------------------------------------------

    def promoted_version(self) -> str | None:
        from shoplake.ml.registry import Registry

        return Registry(self.settings.models_dir).promoted()

    def model(self) -> LoadedModel | None:
        """The promoted model (None before the first promotion).

        The first call loads it and starts the watcher thread; every later call is an
        attribute read — no file, registry or model work on the request path.
        """
        if not self._model_looked_up:
            with self._model_lock:
                if not self._model_looked_up:
                    self._follow_promotion()  # raises when the promoted version is unreadable
                    self._model_looked_up = True
        if self._watcher is None or not self._froze_heap:
            self._settle_heap()
            self._start_watcher()
        return self._loaded

    def _start_watcher(self) -> None:
        with self._model_lock:
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name=WATCHER_THREAD, daemon=True
                )
                self._watcher.start()

    def _follow_promotion(self) -> None:
        """Load the promoted version when it is not the one held (None when none is)."""
        version = self.promoted_version()
        if version is None:
            self._loaded = None
        elif self._loaded is None or self._loaded.version != version:
            from shoplake.ml.serving import load_version

            self._loaded = LoadedModel.of(load_version(self.settings, version))

    def _watch(self) -> None:
        """The watcher thread, until :meth:`close`: follow promotions, and look for the online
        store while it is down. A version that cannot be loaded leaves the current one
        serving (reported once per distinct problem)."""
        reported: str | None = None
        while not self._stop_watching.wait(RECHECK_SECONDS):
            try:
                self._follow_promotion()
                if self._store_url is None:
                    self._look_up_store()
            except Exception as exc:  # the thread must outlive any one failure
                if str(exc) != reported:
                    reported = str(exc)
                    log.warning("serving what is loaded: %s", exc)

    def _settle_heap(self) -> None:
        """Freeze what the process holds now (modules, the model, the app) so that later full
        collections skip it. Undone by :meth:`close`."""
        with self._model_lock:
            if not self._froze_heap:
                _HEAP.hold()
                self._froze_heap = True

    def item_index(self) -> VectorIndex:
        """The vector index of item embeddings, opened once (it follows republications)."""
        if self._index is None:
            from shoplake.ml.serving import ITEM_INDEX
            from shoplake.vectors import open_vector_index

            self._index = open_vector_index(self.settings, ITEM_INDEX)
        return self._index

    # The online store ---------------------------------------------------------------------

    def store_url(self) -> str | None:
        """The online store's URL when configured or running: looked up on the first call,
        then by the watcher thread while the store is down (never again on a request)."""
        if not self._store_looked_up:
            self._look_up_store()
            self._start_watcher()
        return self._store_url

    def _look_up_store(self) -> None:
        from shoplake.ml.live import running_online_store

        self._store_url = running_online_store(self.settings)
        self._store_looked_up = True

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

    # Queries --------------------------------------------------------------------------------

    async def in_query_pool(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the query pool: ``query.workers`` threads of this app's own,
        so that slow statements queue there instead of taking the threads other routes use."""
        if self._query_pool is None:
            self._query_pool = ThreadPoolExecutor(
                self.settings.query.workers, thread_name_prefix="shoplake-query"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._query_pool, partial(function, *args))

    async def close(self) -> None:
        """Stop the watcher, close the backends, give the frozen heap back to the collector."""
        if self._query_pool is not None:
            self._query_pool.shutdown(wait=False, cancel_futures=True)
            self._query_pool = None
        self._stop_watching.set()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.join, 10 * RECHECK_SECONDS)
            self._watcher = None
        self._stop_watching = threading.Event()
        if self._froze_heap:
            _HEAP.release()
            self._froze_heap = False
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
