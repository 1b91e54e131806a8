"""Live recommendations inside the stream processor.

After each read batch has updated the session state, every session the batch touched gets its
recommendations recomputed from the state just written (:mod:`.realtime`) and stored in the
online store as JSON under ``recs:session:<session_id>`` (same TTL as the session). The
documents are also kept for analysis in ``gold.realtime_recommendations``, appended in chunks
and at the end of a run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from shoplake.ml.realtime import RECS_PREFIX, LiveRecommender, encode, realtime_rows

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog

    from shoplake.config import Settings
    from shoplake.ml.serving import Recommendations, ServingModel
    from shoplake.streams.online import SessionStore

log = logging.getLogger(__name__)

REALTIME_TABLE = "gold.realtime_recommendations"
FLUSH_ROWS = 50_000


def realtime_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("session_id", pa.string()),
            pa.field("customer_number", pa.int64()),
            pa.field("rank", pa.int32()),
            pa.field("product_code", pa.string()),
            pa.field("score", pa.float64()),
            pa.field("model_version", pa.string()),
            pa.field("generated_at", pa.timestamp("us", tz="UTC")),
        ]
    )


class LiveRecommendations:
    """Recomputes and stores recommendations for the sessions each batch touched."""

    def __init__(
        self, catalog: Catalog, store: SessionStore, model: ServingModel, ttl_seconds: int
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.recommender = LiveRecommender(model)
        self.ttl = ttl_seconds
        self._rows: list[dict[str, Any]] = []
        self.sessions_scored = 0

    def apply(self, states: dict[str, dict[str, Any]]) -> None:
        """Score every session from its new state (as :meth:`SessionStore.apply` returns it)
        and store the result."""
        documents = []
        for session_id, state in states.items():
            document = self.recommender.recommend(session_id, state) if state else None
            if document is not None:
                documents.append(document)
        if not documents:
            return
        write = self.store.client.pipeline(transaction=False)
        for document in documents:
            write.set(RECS_PREFIX + document["session_id"], encode(document), ex=self.ttl)
        write.execute()
        self.sessions_scored += len(documents)
        self._rows.extend(realtime_rows(documents, dt.datetime.now(dt.UTC)))
        if len(self._rows) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> int:
        """Append the buffered rows to ``gold.realtime_recommendations``; returns the count."""
        import pyarrow as pa

        if not self._rows:
            return 0
        rows, self._rows = self._rows, []
        table = self.catalog.create_table_if_not_exists(
            REALTIME_TABLE, schema=realtime_schema(), properties={"shoplake.layer": "gold"}
        )
        table.append(pa.Table.from_pylist(rows, schema=realtime_schema()))
        return len(rows)


def live_recommendations(
    settings: Settings, catalog: Catalog, store: SessionStore
) -> LiveRecommendations | None:
    """Live recommendations from the promoted model, or None when no model is promoted."""
    from shoplake.ml.registry import Registry
    from shoplake.ml.serving import load_promoted

    if Registry(settings.models_dir).promoted() is None:
        log.info("no promoted model: the processor keeps session state only")
        return None
    model = load_promoted(settings)
    return LiveRecommendations(catalog, store, model, settings.stream.session_ttl_seconds)


def session_recommendations(
    settings: Settings, model: ServingModel, customer_number: int, session_id: str, k: int
) -> Recommendations | None:
    """Live recommendations for a session from the online store, or None when the store is not
    running or the session is unknown there (expired, or never seen by the processor)."""
    from shoplake.ml.serving import Recommendations
    from shoplake.streams.online import SessionStore

    url = running_online_store(settings)
    if url is None:
        return None
    store = SessionStore(url, settings.stream.session_ttl_seconds)
    try:
        state = store.get(session_id)
    finally:
        store.client.close()
    if state is None:
        return None
    state["customer_number"] = customer_number  # the caller knows who is asking
    document = LiveRecommender(model).recommend(session_id, state, k)
    if document is None:
        return None
    items = [model.describe(i["product_code"], i["score"]) for i in document["recommended_items"]]
    return Recommendations(customer_number, model.version, "live session", items)


def running_online_store(settings: Settings) -> str | None:
    """The online store's URL when it is configured or the local one is up; never starts it."""
    from shoplake.services import valkey_status

    if settings.stream.url is not None:
        return settings.stream.url
    status = valkey_status(settings)
    return status.url if status.healthy else None
