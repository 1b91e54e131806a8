"""Response and request shapes, for the OpenAPI document and request validation.

Hot-path routes return prebuilt JSON and declare these through ``responses=`` only, so no
response is validated at request time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Product(BaseModel):
    """A recommended or similar product."""

    product_code: str
    product_name: str
    product_line: str
    score: float = Field(description="higher is better (similar: cosine similarity)")


class RecommendationsOut(BaseModel):
    customer_number: int
    source: Literal["live", "precomputed", "cold_start"] = Field(
        description="live: from the session's current browsing; precomputed: the customer's "
        "list from the promoted model; cold_start: popular products for an unknown customer"
    )
    model_version: str
    items: list[Product]


class SimilarOut(BaseModel):
    product_code: str
    model_version: str
    items: list[Product]


class EventsAccepted(BaseModel):
    accepted: int


class RejectedEvent(BaseModel):
    index: int = Field(description="position in the submitted array")
    event_id: str | None
    reason: str = Field(description="one line naming the field and the problem")


class EventsRejected(BaseModel):
    accepted: int = Field(description="valid events of the batch, accepted nonetheless")
    rejected: list[RejectedEvent]


class QueryIn(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, description="one read-only SELECT")
    limit: int | None = Field(default=None, ge=1, description="rows to return at most")


class QueryOut(BaseModel):
    columns: list[str] = Field(
        description="the result's column names, a repeated name suffixed _1, _2 … (the keys "
        "of each row)"
    )
    rows: list[dict[str, Any]] = Field(
        description="dates and timestamps ISO 8601 ('infinity' and '-infinity' as such), "
        "intervals ISO 8601 durations, inexact decimals and inf/nan as strings, bytes as hex"
    )
    row_count: int
    truncated: bool = Field(description="more rows matched than were returned")
    truncated_by: Literal["rows", "bytes"] | None = Field(
        description="what cut the result: the row limit, or the byte limit (query.max_bytes) "
        "on the rows' JSON; null when nothing was left out"
    )
    masked: list[str] = Field(description="PII columns masked for this caller (table.column)")
    seconds: float


class Detail(BaseModel):
    detail: str


def documented(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A ``responses=`` entry documenting a JSON body of ``model``."""
    return {"model": model, "description": description}
