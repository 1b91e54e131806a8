"""``GET /recommendations/{customer_number}`` and ``GET /products/{product_code}/similar``.

Recommendations come, in order of preference, from the session's live list (written by the
stream processor under ``recs:session:<id>``), the customer's precomputed list (online store
``recs:customer:<n>``, else the model itself), or — for a customer the model does not know —
the most popular products. One valkey round trip, no per-request model loading, no response
validation: this is the hot path.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from valkey.exceptions import ValkeyError

from shoplake.ml.errors import ModelError
from shoplake.ml.realtime import CUSTOMER_RECS_PREFIX, RECS_PREFIX
from shoplake.serve.auth import Caller, authorized_by, require_role
from shoplake.serve.responses import JSON, error, json_response, serve_state
from shoplake.serve.schemas import Detail, RecommendationsOut, SimilarOut, documented
from shoplake.serve.state import MAX_ITEMS, LoadedModel, ServeState
from shoplake.streams.events import MAX_SESSION_ID

router = APIRouter(tags=["recommendations"])
APP_ONLY = require_role("app")
AppCaller = Annotated[Caller, Depends(APP_ONLY)]
INT64_MAX = 2**63 - 1
Limit = Annotated[
    int | None, Query(ge=1, le=MAX_ITEMS, description="products to return (default ml.top_k)")
]
NO_MODEL = "no promoted model yet: run `shoplake train`"
_index_lock = threading.Lock()

# The hot path reads its path and query parameters itself (FastAPI's per-parameter resolution costs
# more than the rest of the request); they are documented here instead.
_QUERY_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {
            "name": "customer_number",
            "in": "path",
            "required": True,
            "description": "the customer (unknown customers get the most popular products)",
            "schema": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "products to return (default ml.top_k)",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS},
        },
        {
            "name": "session_id",
            "in": "query",
            "required": False,
            "description": "the visitor's session: live recommendations while it is active",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SESSION_ID},
        },
    ]
}


@router.get(
    "/recommendations/{customer_number}",
    summary="Top products for a customer",
    response_class=Response,
    openapi_extra=_QUERY_PARAMETERS,
    responses={
        200: documented(RecommendationsOut, "The recommendations and where they came from."),
        503: documented(Detail, "No promoted model."),
    },
)
@authorized_by(APP_ONLY)
async def recommendations(request: Request) -> Response:
    """Live for an active session, else the customer's precomputed list, else cold start."""
    await APP_ONLY(request)
    number = request.path_params["customer_number"]
    if not (number.isascii() and number.isdigit() and int(number) <= INT64_MAX):
        return _invalid("customer_number", number, f"an integer from 0 to {INT64_MAX}", "path")
    customer_number = int(number)
    state = serve_state(request)
    params = request.query_params
    limit, session_id = params.get("limit"), params.get("session_id")
    k = state.settings.ml.top_k
    if limit is not None:
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_ITEMS):
            return _invalid("limit", limit, f"an integer from 1 to {MAX_ITEMS}")
        k = int(limit)
    if session_id is not None and not 1 <= len(session_id) <= MAX_SESSION_ID:
        return _invalid("session_id", session_id, f"1 to {MAX_SESSION_ID} characters")
    loaded = state.model()
    if loaded is None:
        return error(503, NO_MODEL)
    session_doc, customer_doc = await _stored(state, customer_number, session_id)
    if session_id is not None and session_doc is not None:
        live = await _live(state, loaded, customer_number, session_id, session_doc, k=k)
        if live is not None:
            return live
    if customer_doc is not None:
        stored = loaded.rendered(customer_doc, k, "precomputed")
        if stored is not None:
            return Response(stored, media_type=JSON)
    if loaded.knows(customer_number):
        result = loaded.model.recommend(customer_number, k)
        items = [vars(item) for item in result.items]
        return _answer(customer_number, "precomputed", loaded.version, items)
    items = [loaded.item(code, score) for code, score in loaded.popular[:k]]
    return _answer(customer_number, "cold_start", loaded.version, items)


def _invalid(name: str, value: str, expected: str, where: str = "query") -> Response:
    """A 422 shaped like FastAPI's own validation errors."""
    problem = {"type": "value_error", "loc": [where, name], "msg": f"must be {expected}"}
    return json_response({"detail": [problem | {"input": value}]}, 422)


async def _stored(
    state: ServeState, customer_number: int, session_id: str | None
) -> tuple[str | None, str | None]:
    """The session's live document and the customer's precomputed one, in one round trip."""
    store = state.store()
    if store is None:
        return None, None
    customer_key = f"{CUSTOMER_RECS_PREFIX}{customer_number}"
    try:
        if session_id is None:
            return None, await store.get(customer_key)
        session_doc, customer_doc = await store.mget(RECS_PREFIX + session_id, customer_key)
    except (ValkeyError, OSError):
        return None, None  # the store is down: the model still answers
    return session_doc, customer_doc


async def _live(
    state: ServeState,
    loaded: LoadedModel,
    customer_number: int,
    session_id: str,
    session_doc: str,
    *,
    k: int,
) -> Response | None:
    """The session's live list: as the processor stored it when it was made for this customer
    and is long enough, else scored from the session's state for this request."""
    stored = loaded.rendered(session_doc, k, "live", customer_number)
    if stored is not None:
        return Response(stored, media_type=JSON)
    from shoplake.ml.live import session_recommendations

    result = await run_in_threadpool(
        session_recommendations, state.settings, loaded.model, customer_number, session_id, k
    )
    if result is None:
        return None
    return _answer(customer_number, "live", loaded.version, [vars(i) for i in result.items])


def _answer(
    customer_number: int, source: str, model_version: str, items: list[dict[str, Any]]
) -> Response:
    return json_response(
        {
            "customer_number": customer_number,
            "source": source,
            "model_version": model_version,
            "items": items,
        }
    )


@router.get(
    "/products/{product_code}/similar",
    summary="Products similar to a product",
    response_class=Response,
    responses={
        200: documented(SimilarOut, "The nearest products by item embedding (cosine)."),
        404: documented(Detail, "The product is unknown to the promoted model."),
        503: documented(Detail, "No promoted model."),
    },
)
def similar(
    request: Request,
    product_code: Annotated[str, Path(min_length=1, max_length=64)],
    caller: AppCaller,
    limit: Limit = None,
) -> Response:
    """The products nearest to one product, from the vector index (exact search without it)."""
    state = serve_state(request)
    loaded = state.model()
    if loaded is None:
        return error(503, NO_MODEL)
    if product_code not in loaded.labels:
        return error(404, f"product {product_code!r} is unknown to model {loaded.version}")
    k = limit or state.settings.ml.top_k
    try:
        with _index_lock:
            items = loaded.model.similar(product_code, k, state.item_index())
    except ModelError as exc:
        return error(404, str(exc))
    return json_response(
        {
            "product_code": product_code,
            "model_version": loaded.version,
            "items": [vars(item) for item in items],
        }
    )
