"""A clickstream simulator: web-shop sessions driven by customers' latent tastes.

:func:`simulate_sessions` yields ``(session_id, payload)`` pairs — JSON event payloads of
:mod:`shoplake.streams.events` schema v1 — deterministically from a seed. Sessions start as a
Poisson process in *event time* from ``start`` and run concurrently; their events are
interleaved in delivery order, which is event-time order except for late deliveries.

Visitors (shares of sessions):

- 1 % bots: ``device='bot'``, anonymous, 20–150 page views of uniformly random products (10 %
  non-product pages), 0.05–1.5 s apart;
- of the humans, 25 % anonymous (``customer_number`` null) and 75 % customers picked uniformly
  from ``customers``; devices web 45 %, mobile 35 %, app 20 %.

Each human session has an *interest list* of up to 8 products: 16 draws with probability
∝ ``exp(u)``, repeats dropped (successive sampling without replacement), where ``u`` is the
customer's affinity (:func:`~.tastes.affinity`, the truth the generated orders follow) or, for
anonymous visitors and customers without tastes, the log of the catalogue's popularity (the
customers' average choice probability; a Zipf law over a seeded ranking without tastes). A
session takes 1 + Geometric(0.25) steps (mean 4, at most 30); each step is

- a search (15 %): the query is a product's name, its name without the year, its make or its
  line (lower case), taken from the next product of the interest list, which the visitor then
  views with probability 0.7;
- a non-product page view (12 %, ``product_code`` null);
- otherwise a product page view: the next unseen interest product (75 %) or one seen before.

Funnel, per product page view: add to cart with probability 0.10 (customers) or 0.05
(anonymous), quantity 1 (80 %), 2 (15 %) or 3–5 (5 %); 20 % of adds are removed again one to
three steps later. A session ending with a non-empty cart checks out with probability 0.45
(customers) or 0.25 (anonymous): one ``purchase`` per cart line, with its quantity and the
product's MSRP as the unit ``price`` (cart events carry it too). Measured over 300,000 events
(seed 42, scale-0.01 catalogue): human sessions average 4.4 events and 3 product views; 24 %
of customers' sessions and 13 % of anonymous ones add to cart, 9.0 % and 2.8 % purchase (37 %
and 21 % of carts); bots make 17 % of the events.

Time: gaps between a human's events are lognormal (median 20 s, σ = 1) clipped to 1 s – 15 min;
a search is followed by its product view 2–15 s later; checkout comes 30–180 s after the last
step and purchase lines 0.3–1.5 s apart. 5 % of the human sessions of two steps or more contain
one idle gap of 31–90 min between steps (a second session under the same ``session_id`` for a
30-minute sessionizer).

Delivery: 1 % of events are delivered 2–30 s late (their ``event_time`` is earlier than the
event emitted before them); producer retries re-send 0.5 % of events, byte for byte, 0.2–3 s
later (so duplicates share ``event_id``). ``bad_rate`` is the probability that a malformed
payload is inserted before an event: bad JSON, a missing field, a wrong type, an unknown product
code (refused only by a validator given the catalogue) or an ``event_time`` 100 years ahead,
equally likely. Bad payloads draw from their own random stream, so the good payloads of a seed
are the same whatever ``bad_rate`` is.

``events`` counts emitted payloads — good, duplicated and bad alike. ``rate`` is the mean
number of events per second of event time (default 50) once the sessions begun earlier are
under way (the stream starts cold at ``start`` and reaches it within minutes): a producer
emitting in real time at ``rate`` keeps event time close to the clock, while ``events`` emitted
at once span about ``events / rate`` seconds after ``start`` — keep that under the validator's
``max_future`` (1 day) when ``start`` is now. ``event_id`` is 32 hex digits (128 random bits),
``session_id`` 24.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from shoplake.errors import ConfigError, SourceError
from shoplake.generate.tastes import Tastes, affinity
from shoplake.streams.events import FIELDS, encode

if TYPE_CHECKING:
    import pyarrow as pa

    from shoplake.config import Settings

BOT_SHARE: Final = 0.01
ANONYMOUS_SHARE: Final = 0.25
DEVICES_HUMAN: Final = (("web", 0.45), ("mobile", 0.35), ("app", 0.20))
INTEREST: Final = 8
STEP_P: Final = 0.25  # steps = 1 + Geometric(STEP_P)
MAX_STEPS: Final = 30
P_SEARCH: Final = 0.15
P_OTHER_PAGE: Final = 0.12
P_NEW_PRODUCT: Final = 0.75
P_VIEW_AFTER_SEARCH: Final = 0.7
P_ADD: Final = {"customer": 0.10, "anonymous": 0.05}
P_REMOVE: Final = 0.20
P_CHECKOUT: Final = {"customer": 0.45, "anonymous": 0.25}
GAP_MEDIAN_MS: Final = 20_000
GAP_SIGMA: Final = 1.0
GAP_MIN_MS, GAP_MAX_MS = 1_000, 900_000
P_IDLE_SESSION: Final = 0.05
IDLE_MS: Final = (31 * 60_000, 90 * 60_000)
BOT_VIEWS: Final = (20, 150)
BOT_GAP_MS: Final = (50, 1_500)
P_LATE: Final = 0.01
LATE_MS: Final = (2_000, 30_000)
P_RETRY: Final = 0.005
RETRY_MS: Final = (200, 3_000)
DEFAULT_RATE: Final = 50.0
#: Mean events per session (measured), to turn an event rate into a session arrival rate.
MEAN_SESSION_EVENTS: Final = 5.1
BAD_KINDS: Final = ("bad_json", "missing_field", "wrong_type", "unknown_product", "future_time")
FUTURE_MS: Final = round(100 * 365.25 * 86_400_000)
_DEVICE_NAMES = tuple(name for name, _ in DEVICES_HUMAN)
_DEVICE_CUMULATIVE = tuple(np.cumsum([share for _, share in DEVICES_HUMAN]).tolist())
_PLAN_BLOCK = 1_024  # sessions planned (visitor, interest list) at once
_POPULARITY_SAMPLE = 2_000  # customers averaged for the popularity of products


@dataclass
class ClickstreamStats:
    """What a simulation has emitted so far."""

    emitted: int = 0
    sessions: int = 0
    bot_sessions: int = 0
    anonymous_sessions: int = 0
    duplicates: int = 0
    late: int = 0
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_KINDS, 0))
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Catalog:
    codes: list[str]
    names: list[str]
    lines: list[str]
    cents: list[int]
    columns: dict[str, list[Any]]  # for affinity: productLine, productVendor, productScale, MSRP


def _column(rows: Mapping[str, Sequence[Any]], *names: str, required: bool = True) -> list[Any]:
    for name in names:
        if name in rows:
            return list(rows[name])
    if required:
        raise SourceError(f"products: none of the columns {', '.join(names)} found")
    return []


def _catalog(products: pa.Table | list[dict[str, Any]]) -> _Catalog:
    if not len(products):
        raise SourceError("the clickstream needs at least one product")
    if isinstance(products, list):
        keys = products[0].keys() if products else ()
        rows: dict[str, list[Any]] = {k: [p.get(k) for p in products] for k in keys}
    else:
        rows = {name: products[name].to_pylist() for name in products.column_names}
    codes = [str(c) for c in _column(rows, "productCode", "product_code")]
    names = [str(n or "") for n in _column(rows, "productName", "product_name")]
    lines = [str(n or "") for n in _column(rows, "productLine", "product_line")]
    msrp = _column(rows, "MSRP", "msrp")
    cents = [int((Decimal(str(m)) * 100).to_integral_value()) for m in msrp]
    columns = {
        "productLine": lines,
        "productVendor": _column(rows, "productVendor", "product_vendor", required=False),
        "productScale": _column(rows, "productScale", "product_scale", required=False),
        "MSRP": [c / 100 for c in cents],
    }
    return _Catalog(codes, names, lines, cents, columns)


def _queries(catalog: _Catalog) -> list[tuple[str, ...]]:
    """Search phrases per product: name, name without the year, make, line (lower case)."""
    phrases = []
    for code, name, line in zip(catalog.codes, catalog.names, catalog.lines, strict=True):
        words = name.lower().split()
        if words and words[0].isdigit():
            words = words[1:]
        options = [name.lower(), " ".join(words), words[0] if words else "", line.lower()]
        phrases.append(tuple(o for o in options if o) or (code.lower(),))
    return phrases


def _popularity(catalog: _Catalog, tastes: Tastes | None, rng: np.random.Generator) -> np.ndarray:
    """Log popularity of each product: customers' mean choice probability, or a Zipf law."""
    n = len(catalog.codes)
    if tastes is not None and len(tastes) and catalog.columns["productVendor"]:
        rows = np.arange(len(tastes))
        if len(rows) > _POPULARITY_SAMPLE:
            rows = np.sort(rng.choice(rows, _POPULARITY_SAMPLE, replace=False))
        utility = affinity(tastes.take(rows), catalog.columns)
        chosen = np.exp(utility - utility.max(axis=1, keepdims=True))
        share = (chosen / chosen.sum(axis=1, keepdims=True)).mean(axis=0)
        return np.asarray(np.log(share + 1e-12))
    rank = rng.permutation(n)
    return np.asarray(-0.9 * np.log1p(rank.astype(np.float64)))


def _draw(rng: np.random.Generator, utility: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``n`` products for each draw ``i``, with replacement, ∝ ``exp(utility[rows[i]])``.

    Dropping repeats from such draws is successive sampling without replacement; it costs a
    binary search per product instead of a key per catalogue product.
    """
    m, n_products = utility.shape
    weights = np.exp(utility - utility.max(axis=1, keepdims=True))
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    cdf += np.arange(m)[:, None]  # row r spans (r, r + 1]: one sorted array for all rows
    targets = rng.random((len(rows), n)) + rows[:, None]
    picked = np.searchsorted(cdf.ravel(), targets, side="right") - rows[:, None] * n_products
    return np.clip(picked, 0, n_products - 1)


class _Planner:
    """Who each session's visitor is and the products they are interested in, in blocks."""

    def __init__(
        self,
        catalog: _Catalog,
        customers: list[int],
        tastes: Tastes | None,
        rng: np.random.Generator,
    ) -> None:
        self.rng = rng
        self.catalog = catalog
        self.customers = np.asarray(customers, dtype=np.int64)
        usable = tastes is not None and len(tastes) > 0 and bool(catalog.columns["productVendor"])
        self.tastes = tastes if usable else None
        self.taste_row = (
            self.tastes.rows_of(self.customers)
            if self.tastes is not None
            else np.full(len(self.customers), -1, dtype=np.int64)
        )
        self.popularity = _popularity(catalog, self.tastes, rng)
        self.queue: list[tuple[str, int | None, list[int]]] = []

    def next(self) -> tuple[str, int | None, list[int]]:
        """(kind bot|anonymous|customer, customer number, interest list) of the next session."""
        if not self.queue:
            self.queue = self._block(_PLAN_BLOCK)
            self.queue.reverse()
        return self.queue.pop()

    def _block(self, size: int) -> list[tuple[str, int | None, list[int]]]:
        rng = self.rng
        roll = rng.random(size)
        pick = rng.integers(0, max(1, len(self.customers)), size)
        bot = roll < BOT_SHARE
        anonymous = ~bot & ((roll < BOT_SHARE + ANONYMOUS_SHARE * (1 - BOT_SHARE)) | (
            len(self.customers) == 0))  # fmt: skip
        customer = ~bot & ~anonymous
        row = np.where(customer, self.taste_row[pick] if len(self.customers) else -1, -1)
        utility_rows = np.unique(row[row >= 0])
        # Utility matrix: row 0 = popularity, then one row per distinct customer with tastes.
        utility = self.popularity[None, :]
        if len(utility_rows) and self.tastes is not None:
            taste_utility = affinity(self.tastes.take(utility_rows), self.catalog.columns)
            utility = np.vstack([utility, taste_utility])
        local = np.where(row >= 0, np.searchsorted(utility_rows, row) + 1, 0)
        draws = _draw(rng, utility, local, 2 * INTEREST).tolist()
        plans: list[tuple[str, int | None, list[int]]] = []
        for i in range(size):
            if bot[i]:
                plans.append(("bot", None, []))
                continue
            interest = list(dict.fromkeys(draws[i]))[:INTEREST]
            if customer[i]:
                plans.append(("customer", int(self.customers[pick[i]]), interest))
            else:
                plans.append(("anonymous", None, interest))
        return plans


class _Clock:
    """ISO-8601 UTC strings of epoch milliseconds, the minute prefix cached."""

    def __init__(self) -> None:
        self.minute = -1
        self.prefix = ""

    def iso(self, ms: int) -> str:
        minute, rest = divmod(ms, 60_000)
        if minute != self.minute:
            self.minute = minute
            m = datetime.fromtimestamp(minute * 60, UTC)
            self.prefix = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
        second, milli = divmod(rest, 1000)
        return f"{self.prefix}{second:02d}.{milli:03d}Z"


#: One step of a session's timeline: (gap ms, event type, product index, quantity, query).
_Step = tuple[int, str, int | None, int | None, str | None]
# A pending delivery: (emit at ms, sequence, session id, event time ms, event dict or bytes).
_Entry = tuple[int, int, str, int, "dict[str, Any] | bytes"]


class Clickstream(Iterator[tuple[str, bytes]]):
    """The iterator :func:`simulate_sessions` returns; ``stats`` tells what it emitted."""

    def __init__(
        self,
        catalog: _Catalog,
        customers: list[int],
        tastes: Tastes | None,
        *,
        events: int | None,
        start: datetime,
        rate: float,
        seed: int,
        bad_rate: float,
    ) -> None:
        self.catalog = catalog
        self.known = frozenset(catalog.codes)
        self.queries = _queries(catalog)
        self.limit = events
        self.bad_rate = bad_rate
        self.stats = ClickstreamStats()
        base = [seed, zlib.crc32(b"clickstream")]
        self.planner = _Planner(catalog, customers, tastes, np.random.default_rng(base))
        self.rand = random.Random(f"{seed}:clickstream")
        self.bad_rand = random.Random(f"{seed}:clickstream:bad")
        self.clock = _Clock()
        self.heap: list[_Entry] = []
        self.seq = 0
        self.session_ms = 1000.0 * MEAN_SESSION_EVENTS / rate  # mean gap between arrivals
        self.next_arrival = round(start.timestamp() * 1000)
        self.mu = float(np.log(GAP_MEDIAN_MS))

    # -- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Clickstream:
        return self

    def __next__(self) -> tuple[str, bytes]:
        stats = self.stats
        if self.limit is not None and stats.emitted >= self.limit:
            raise StopIteration
        heap = self.heap
        while not heap or heap[0][0] > self.next_arrival:
            self._start_session(self.next_arrival)
            self.next_arrival += max(1, round(self.rand.expovariate(1.0) * self.session_ms))
        entry = heap[0]
        session_id, event_ms, data = entry[2], entry[3], entry[4]
        stats.emitted += 1
        if isinstance(data, bytes):  # a producer retry: the same bytes again
            heapq.heappop(heap)
            stats.duplicates += 1
            return session_id, data
        if self.bad_rate and self.bad_rand.random() < self.bad_rate:
            return session_id, self._bad(data, event_ms)  # the good event stays queued
        heapq.heappop(heap)
        data["event_time"] = self.clock.iso(event_ms)
        payload = encode(data)
        kind = data["event_type"]
        stats.by_type[kind] = stats.by_type.get(kind, 0) + 1
        if entry[0] != event_ms:
            stats.late += 1
        rand = self.rand
        if rand.random() < P_RETRY:
            self.seq += 1
            retry_at = entry[0] + rand.randint(*RETRY_MS)
            heapq.heappush(heap, (retry_at, self.seq, session_id, event_ms, payload))
        return session_id, payload

    # -- sessions ----------------------------------------------------------------------------

    def _start_session(self, at_ms: int) -> None:
        kind, customer, interest = self.planner.next()
        rand = self.rand
        session_id = f"{rand.getrandbits(96):024x}"
        self.stats.sessions += 1
        if kind == "bot":
            self.stats.bot_sessions += 1
            timeline = self._bot(rand)
            device = "bot"
        else:
            self.stats.anonymous_sessions += kind == "anonymous"
            timeline = self._human(rand, kind, interest)
            device = rand.choices(_DEVICE_NAMES, cum_weights=_DEVICE_CUMULATIVE)[0]
        now = at_ms
        heap = self.heap
        for gap, event_type, product, quantity, query in timeline:
            now += gap
            cents = self.catalog.cents[product] if product is not None and quantity else None
            data = {
                "event_id": f"{rand.getrandbits(128):032x}",
                "event_type": event_type,
                "event_time": None,
                "session_id": session_id,
                "customer_number": customer,
                "product_code": None if product is None else self.catalog.codes[product],
                "quantity": quantity,
                "price": None if cents is None else cents / 100,
                "device": device,
                "query": query,
                "schema_version": 1,
            }
            deliver = now + rand.randint(*LATE_MS) if rand.random() < P_LATE else now
            self.seq += 1
            heapq.heappush(heap, (deliver, self.seq, session_id, now, data))

    def _bot(self, rand: random.Random) -> list[_Step]:
        n_products = len(self.catalog.codes)
        timeline: list[_Step] = []
        for i in range(rand.randint(*BOT_VIEWS)):
            gap = 0 if i == 0 else rand.randint(*BOT_GAP_MS)
            product = None if rand.random() < 0.1 else rand.randrange(n_products)
            timeline.append((gap, "page_view", product, None, None))
        return timeline

    def _human(self, rand: random.Random, kind: str, interest: list[int]) -> list[_Step]:
        """(gap ms, event type, product index, quantity, query) of one human session."""
        timeline: list[_Step] = []
        steps = 1
        while steps < MAX_STEPS and rand.random() >= STEP_P:
            steps += 1
        idle_at = rand.randrange(1, steps) if steps > 1 and rand.random() < P_IDLE_SESSION else -1
        p_add = P_ADD[kind]
        cart: dict[int, int] = {}
        doomed: list[tuple[int, int]] = []  # (step to remove at, product)
        seen: list[int] = []
        fresh = 0  # next unseen interest position
        lognorm, mu = rand.lognormvariate, self.mu

        def gap() -> int:
            return min(GAP_MAX_MS, max(GAP_MIN_MS, int(lognorm(mu, GAP_SIGMA))))

        def add(
            delay: int,
            event_type: str,
            product: int | None = None,
            quantity: int | None = None,
            query: str | None = None,
        ) -> None:
            timeline.append((0 if not timeline else delay, event_type, product, quantity, query))

        target: int | None = None
        for step in range(steps):
            delay = gap()
            if step == idle_at:
                delay += rand.randint(*IDLE_MS)
            for due, product in [d for d in doomed if d[0] <= step]:
                doomed.remove((due, product))
                if product in cart:
                    add(delay, "remove_from_cart", product, cart.pop(product))
                    delay = gap()
            roll = rand.random()
            if target is None and roll < P_SEARCH and interest:
                target = interest[fresh] if fresh < len(interest) else rand.choice(interest)
                add(delay, "search", query=rand.choice(self.queries[target]))
                if rand.random() >= P_VIEW_AFTER_SEARCH:
                    target = None
                continue
            if (target is None and roll < P_SEARCH + P_OTHER_PAGE) or not interest:
                add(delay, "page_view")
                continue
            if target is not None:
                product, delay, target = target, rand.randint(2_000, 15_000), None
            elif fresh < len(interest) and (not seen or rand.random() < P_NEW_PRODUCT):
                product = interest[fresh]
            else:
                product = rand.choice(seen) if seen else interest[0]
            if fresh < len(interest) and product == interest[fresh]:
                fresh += 1
            if product not in seen:
                seen.append(product)
            add(delay, "page_view", product)
            if rand.random() < p_add:
                r = rand.random()
                quantity = 1 if r < 0.8 else 2 if r < 0.95 else rand.randint(3, 5)
                cart[product] = cart.get(product, 0) + quantity
                add(gap(), "add_to_cart", product, quantity)
                if rand.random() < P_REMOVE:
                    doomed.append((step + rand.randint(1, 3), product))
        for _, product in doomed:
            if product in cart:
                add(gap(), "remove_from_cart", product, cart.pop(product))
        if cart and rand.random() < P_CHECKOUT[kind]:
            delay = rand.randint(30_000, 180_000)
            for product, quantity in cart.items():
                add(delay, "purchase", product, quantity)
                delay = rand.randint(300, 1_500)
        return timeline

    # -- malformed payloads ------------------------------------------------------------------

    def _bad(self, good: dict[str, Any], event_ms: int) -> bytes:
        """A malformed variant of a pending event (with its own event_id), of a random kind."""
        rand = self.bad_rand
        kind = BAD_KINDS[rand.randrange(len(BAD_KINDS))]
        self.stats.bad[kind] += 1
        data = dict(good)
        data["event_id"] = f"{rand.getrandbits(128):032x}"
        data["event_time"] = self.clock.iso(event_ms)
        if kind == "bad_json":
            text = encode(data)
            if rand.random() < 0.5:
                return text[: rand.randrange(1, len(text) - 1)]  # truncated object
            return text.replace(b'":', b'"=', 1)  # not JSON
        if kind == "missing_field":
            del data[FIELDS[rand.randrange(len(FIELDS))]]
        elif kind == "wrong_type":
            name, value = rand.choice(
                [
                    ("quantity", "three"),
                    ("customer_number", str(data["customer_number"] or 103)),
                    ("event_time", event_ms // 1000),
                    ("price", "19.99"),
                    ("device", 3),
                    ("event_id", 12345),
                    ("schema_version", "1"),
                ]
            )
            data[name] = value
        elif kind == "unknown_product":
            code = "S99_0000"
            while code in self.known:
                code = f"S99_{rand.randrange(10_000):04d}"
            data["product_code"] = code
        else:  # future_time
            data["event_time"] = self.clock.iso(event_ms + FUTURE_MS)
        return encode(data)


def simulate_sessions(
    products: pa.Table | list[dict[str, Any]],
    customers: list[int],
    tastes: Tastes | None,
    *,
    events: int | None,
    start: datetime,
    rate: float | None,
    seed: int,
    bad_rate: float = 0.0,
) -> Clickstream:
    """Simulated clickstream ``(session_id, payload)`` pairs; see the module doc.

    ``products`` has productCode, productName, productLine and MSRP (plus productVendor and
    productScale for tastes; snake_case names work too). ``events`` None runs forever.
    """
    if events is not None and events < 0:
        raise ConfigError(f"events must be zero or more, got {events}")
    if rate is not None and not rate > 0:
        raise ConfigError(f"rate must be positive, got {rate}")
    if not 0.0 <= bad_rate <= 1.0:
        raise ConfigError(f"bad_rate must be between 0 and 1, got {bad_rate}")
    if start.tzinfo is None:
        raise ConfigError("start must be timezone-aware")
    return Clickstream(
        _catalog(products),
        list(customers),
        tastes,
        events=events,
        start=start,
        rate=rate or DEFAULT_RATE,
        seed=seed,
        bad_rate=bad_rate,
    )


def load_catalog_for_clickstream(
    settings: Settings,
) -> tuple[list[dict[str, Any]], list[int], Tastes | None]:
    """Products and customer numbers from the source database, tastes when they were saved."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from shoplake.generate import schema
    from shoplake.generate.tastes import load_tastes
    from shoplake.redact import error_message, redact
    from shoplake.sourcedb import check_connection, create_source_engine

    url = settings.source_url
    p, c = schema.products, schema.customers
    engine = create_source_engine(url)
    try:
        check_connection(engine, url, must_exist=True)
        with engine.connect() as conn:
            products = [
                dict(row._mapping)
                for row in conn.execute(
                    select(p.c.productCode, p.c.productName, p.c.productLine, p.c.productScale,
                           p.c.productVendor, p.c.buyPrice, p.c.MSRP).order_by(p.c.productCode)
                )
            ]  # fmt: skip
            customers = list(
                conn.execute(select(c.c.customerNumber).order_by(c.c.customerNumber)).scalars()
            )
    except SQLAlchemyError as exc:
        reason = error_message(exc, url=url)
        raise SourceError(f"cannot read the catalogue from {redact(url)!r}: {reason}") from None
    finally:
        engine.dispose()
    if not products:
        raise SourceError("the source has no products: generate or load it first")
    path = settings.tastes_path
    tastes = load_tastes(path) if path.exists() else None
    return products, [int(n) for n in customers], tastes
