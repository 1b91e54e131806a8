"""The supplier's records: products and reviews built from seeded randomness, timestamps, and the
few permanently malformed records planted in the data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PRODUCTS = "products"
REVIEWS = "reviews"
RESOURCES = (PRODUCTS, REVIEWS)
ID_FIELDS = {PRODUCTS: "sku", REVIEWS: "review_id"}

# Seeded timestamps lie in the SEED_DAYS before SEED_END, so a seed is reproducible.
SEED_END = datetime(2026, 5, 1, tzinfo=UTC)
SEED_DAYS = 90
MALFORMED_REVIEW_EVERY = 40  # review number n is malformed when n % 40 == 0
REVIEW_MALFORMATIONS = ("rating_zero", "rating_string", "sku_missing", "sku_unknown")
PRICE_MALFORMATION = "price_na"
CENT = Decimal("0.01")

_FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Marco",
    "Nadia",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
)
_LAST = (
    "Almeida",
    "Berg",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Silva",
)
_TITLES = {
    1: ("Disappointing", "Broke within a week", "Not as pictured"),
    2: ("Below expectations", "Flimsy details", "Meh"),
    3: ("Decent for the price", "Okay model", "Average finish"),
    4: ("Very nice model", "Good detail", "Happy with it"),
    5: ("Superb replica", "Perfect gift", "Outstanding detail"),
}
_BODIES = {
    1: "Parts came loose and the paint was chipped out of the box.",
    2: "The proportions are fine but the finish feels cheap.",
    3: "Does the job on a shelf; close up the details are so-so.",
    4: "Well made and true to scale, a couple of small flaws.",
    5: "Every detail is right, from the decals to the wheels. Recommended.",
}


def iso(moment: datetime) -> str:
    """``moment`` as the API writes it: UTC, 6 fractional digits, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC) as an aware datetime.

    Raises ``ValueError`` when ``text`` is not one.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seeded_moment(rng: random.Random) -> datetime:
    """A moment in the seed window, with microseconds."""
    return SEED_END - timedelta(microseconds=rng.randrange(SEED_DAYS * 86_400 * 1_000_000))


def price(value: Decimal | float) -> str:
    """A decimal string with 2 places."""
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def product_record(source: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The supplier's record of one source product (``productCode`` … ``quantityInStock``)."""
    markup = Decimal(str(round(rng.uniform(0.95, 1.15), 4)))
    return {
        "sku": f"SUP-{source['productCode']}",
        "product_code": source["productCode"],
        "name": source["productName"],
        "vendor": source["productVendor"],
        "unit_price": price(Decimal(str(source["buyPrice"])) * markup),
        "currency": "USD",
        "stock": max(0, int(source["quantityInStock"]) // 10 + rng.randint(-20, 20)),
        "lead_time_days": rng.randint(2, 45),
        "discontinued": rng.random() < 0.03,
        "updated_at": iso(seeded_moment(rng)),
    }


def review_record(number: int, sku: str, created: datetime, rng: random.Random) -> dict[str, Any]:
    """Review number ``number`` of ``sku``, written at ``created`` (malformed every 40th)."""
    rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0]
    record: dict[str, Any] = {
        "review_id": f"R{number:06d}",
        "sku": sku,
        **review_text(rating, rng),
        "reviewer": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "created_at": iso(created),
        "updated_at": iso(created),
    }
    kind = review_malformation(number)
    if kind is not None:
        malform_review(record, kind)
    return record


def review_text(rating: int, rng: random.Random) -> dict[str, Any]:
    """A review's rating with a title and body that fit it."""
    return {"rating": rating, "title": rng.choice(_TITLES[rating]), "body": _BODIES[rating]}


def review_malformation(number: int) -> str | None:
    """Which malformation review number ``number`` carries, if any."""
    if number % MALFORMED_REVIEW_EVERY:
        return None
    cycle = number // MALFORMED_REVIEW_EVERY - 1
    return REVIEW_MALFORMATIONS[cycle % len(REVIEW_MALFORMATIONS)]


def malform_review(record: dict[str, Any], kind: str) -> None:
    """Plant malformation ``kind`` in a review record, in place."""
    if kind == "rating_zero":
        record["rating"] = 0
    elif kind == "rating_string":
        record["rating"] = "five"
    elif kind == "sku_missing":
        del record["sku"]
    elif kind == "sku_unknown":
        record["sku"] = "SUP-NO_SUCH_" + record["review_id"]


def malform_product(record: dict[str, Any]) -> None:
    """Plant the product malformation (an unparseable price), in place."""
    record["unit_price"] = "N/A"
