"""Latent customer tastes: the hidden truth behind generated orders, ratings and clicks.

Every generated customer ``c`` gets

- ``line_weights[c]``: a Dirichlet draw over the seven product lines, concentrated on one
  primary line (chosen in proportion to the line's share of the catalogue) and, for half the
  customers, a secondary one;
- ``vendor_weights[c]``: a Dirichlet(0.4) draw over the vendors;
- ``preferred_scale[c]``: one of the usual scales of the primary line (the first ones likelier);
- ``price_band[c]`` (budget | mid | premium) and ``log_price[c]``, the log of the MSRP the
  customer is most comfortable with (band centre times a small lognormal jitter).

The utility of product ``p`` (line ``l``, vendor ``v``, scale ``s``, price ``MSRP``) is

    u[c, p] = log(line_weights[c, l] + LINE_EPS)
            + VENDOR_WEIGHT * log(n_vendors * vendor_weights[c, v] + LINE_EPS)
            + SCALE_BONUS * [s == preferred_scale[c]]
            - (log(MSRP) - log_price[c])² / (2 * PRICE_WIDTH²)

An unknown line scores ``log(LINE_EPS)``, an unknown vendor 0 (a neutral vendor). Customers pick
the products of an order without replacement with probability ∝ ``exp(u)``
(:func:`choose_products`). A rating is ``round(RATING_MEAN + RATING_SLOPE * z + N(0,
RATING_NOISE))`` clipped to 1..5, where ``z`` standardises ``u`` over the distinct products the
customer bought (:func:`standardized`): it says how a product compares with the customer's other
purchases, and comes out near the public sample's 1–5 mix at any scale.

:func:`affinity` is the one implementation of this formula, shared by the generator, the change
simulator and the recommender's oracle evaluation: changing it changes what "truth" means, so
bump :data:`FORMULA_VERSION` when you do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.errors import SourceError

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

FORMULA_VERSION = 1
LINE_EPS = 1e-3
VENDOR_WEIGHT = 0.5
SCALE_BONUS = 0.7
PRICE_WIDTH = 0.45
PRICE_BANDS: dict[str, float] = {"budget": 60.0, "mid": 100.0, "premium": 160.0}
PRICE_BAND_SHARES = (0.3, 0.45, 0.25)
#: ratings: round(RATING_MEAN + RATING_SLOPE * z + N(0, RATING_NOISE)) clipped to 1..5.
RATING_MEAN, RATING_SLOPE, RATING_NOISE = 3.0, 1.0, 0.6
_METADATA_KEY = b"shoplake.tastes"
_CELLS_PER_CHUNK = 2_000_000  # customers x products utilities held at once

#: Utilities of every product for some customers, given their row numbers (sorted, unique).
UtilityOf = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tastes:
    """Per-customer taste parameters, row ``i`` belonging to ``customer_number[i]``."""

    customer_number: np.ndarray  # int64 (C,)
    lines: tuple[str, ...]
    vendors: tuple[str, ...]
    line_weights: np.ndarray  # float64 (C, len(lines))
    vendor_weights: np.ndarray  # float64 (C, len(vendors))
    preferred_scale: np.ndarray  # str (C,)
    price_band: np.ndarray  # str (C,)
    log_price: np.ndarray  # float64 (C,)
    seed: int | None = None
    scale: float | None = None

    def __len__(self) -> int:
        return len(self.customer_number)

    def take(self, rows: np.ndarray | slice) -> Tastes:
        """The tastes of a subset of customers (by row position)."""
        return replace(
            self,
            customer_number=self.customer_number[rows],
            line_weights=self.line_weights[rows],
            vendor_weights=self.vendor_weights[rows],
            preferred_scale=self.preferred_scale[rows],
            price_band=self.price_band[rows],
            log_price=self.log_price[rows],
        )

    def rows_of(self, customer_numbers: np.ndarray) -> np.ndarray:
        """Row position of each customer number, -1 for customers without tastes."""
        if not len(self):
            return np.full(len(customer_numbers), -1, dtype=np.int64)
        order = np.argsort(self.customer_number, kind="stable")
        ordered = self.customer_number[order]
        pos = np.clip(np.searchsorted(ordered, customer_numbers), 0, len(ordered) - 1)
        return np.where(ordered[pos] == customer_numbers, order[pos], -1)


def draw_tastes(rng: np.random.Generator, customer_numbers: np.ndarray) -> Tastes:
    """Draw tastes over the generator's catalogue vocabulary (:mod:`.names`) for customers."""
    from shoplake.generate.names import PRODUCT_LINES, VENDORS

    lines = tuple(line.name for line in PRODUCT_LINES)
    line_scales = [line.scales for line in PRODUCT_LINES]
    n, n_lines = len(customer_numbers), len(lines)
    shares = np.array([line.share for line in PRODUCT_LINES])
    shares /= shares.sum()
    primary = rng.choice(n_lines, size=n, p=shares)
    secondary = rng.choice(n_lines, size=n, p=shares)
    alpha = np.full((n, n_lines), 0.1)
    rows = np.arange(n)
    alpha[rows, primary] += 4.0
    alpha[rows, secondary] += np.where(rng.random(n) < 0.5, 1.5, 0.0)
    line_weights = _dirichlet(rng, alpha)
    vendor_weights = _dirichlet(rng, np.full((n, len(VENDORS)), 0.4))
    pick = rng.random(n)
    preferred = np.array(
        [line_scales[p][int(u * len(line_scales[p]))] for p, u in zip(primary, pick, strict=True)]
    )
    bands = np.array(list(PRICE_BANDS))[rng.choice(len(PRICE_BANDS), size=n, p=PRICE_BAND_SHARES)]
    centres = np.log(np.array([PRICE_BANDS[b] for b in bands], dtype=np.float64))
    return Tastes(
        customer_number=np.asarray(customer_numbers, dtype=np.int64),
        lines=lines,
        vendors=VENDORS,
        line_weights=line_weights,
        vendor_weights=vendor_weights,
        preferred_scale=preferred,
        price_band=bands,
        log_price=centres + rng.normal(0.0, 0.1, size=n),
    )


def _dirichlet(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    draws = rng.gamma(alpha)
    return draws / draws.sum(axis=1, keepdims=True)


def _column(products: Any, *names: str) -> np.ndarray:
    """A product column by its source (camelCase) or silver (snake_case) name."""
    available = products.column_names if hasattr(products, "column_names") else list(products)
    for name in names:
        if name in available:
            column = products[name]
            if hasattr(column, "to_pylist"):
                return np.asarray(column.to_pylist(), dtype=object)
            return np.asarray(column, dtype=object)
    raise SourceError(f"products: none of the columns {', '.join(names)} found")


def _positions(values: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(vocabulary)}
    return np.array([lookup.get(v, -1) for v in values], dtype=np.int64)


def affinity(tastes: Tastes, products: pa.Table | Mapping[str, Any]) -> np.ndarray:
    """Utility ``u[c, p]`` of every product for every customer (formula in the module doc).

    ``products`` has columns productLine, productVendor, productScale and MSRP (or their
    snake_case names) — a pyarrow Table, a pandas DataFrame or a mapping of arrays.
    """
    line = _positions(_column(products, "productLine", "product_line"), tastes.lines)
    vendor = _positions(_column(products, "productVendor", "product_vendor"), tastes.vendors)
    scale = _column(products, "productScale", "product_scale").astype(str)
    msrp = _column(products, "MSRP", "msrp").astype(np.float64)

    log_lines = np.log(tastes.line_weights + LINE_EPS)
    log_lines = np.concatenate([log_lines, np.full((len(tastes), 1), np.log(LINE_EPS))], axis=1)
    n_vendors = len(tastes.vendors)
    vendor_terms = VENDOR_WEIGHT * np.log(n_vendors * tastes.vendor_weights + LINE_EPS)
    vendor_terms = np.concatenate([vendor_terms, np.zeros((len(tastes), 1))], axis=1)
    utility = log_lines[:, line] + vendor_terms[:, vendor]
    utility += SCALE_BONUS * (tastes.preferred_scale.astype(str)[:, None] == scale[None, :])
    utility -= (np.log(msrp)[None, :] - tastes.log_price[:, None]) ** 2 / (2 * PRICE_WIDTH**2)
    return utility


def standardized(group: np.ndarray, utility: np.ndarray) -> np.ndarray:
    """Utilities standardised within groups (customers): ``(u - mean) / sd`` of each group.

    Applied to the products a customer bought, a rating then says how a product compares with
    the customer's other purchases, whatever the catalogue size. Groups of one score 0.
    """
    _, index, size = np.unique(group, return_inverse=True, return_counts=True)
    mean = np.bincount(index, weights=utility) / size
    spread = np.bincount(index, weights=(utility - mean[index]) ** 2) / size
    deviation = np.sqrt(spread)[index]
    return np.where(deviation > 1e-9, (utility - mean[index]) / np.maximum(deviation, 1e-9), 0.0)


def draw_ratings(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    """Ratings 1..5 rising with the standardised utility ``z`` of each (customer, product)."""
    noisy = RATING_MEAN + RATING_SLOPE * z + rng.normal(0.0, RATING_NOISE, size=len(z))
    return np.clip(np.rint(noisy), 1, 5).astype(np.int16)


def sample_without_replacement(
    rng: np.random.Generator, utility: np.ndarray, rows: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """For each draw ``i``, ``counts[i]`` distinct columns of ``utility[rows[i]]``, ∝ softmax.

    Uses the exponential race (Gumbel top-k): the ``k`` smallest ``Exp(1) / exp(u)`` keys are
    a sample without replacement with probabilities ∝ ``exp(u)``. Returns the chosen columns
    flattened in draw order, each draw's picks in the order they won the race.
    """
    n_cols = utility.shape[1]
    inverse = np.exp(utility.max(axis=1, keepdims=True) - utility).astype(np.float32)
    chunk = max(1, (1 << 22) // max(n_cols, 1))
    picked: list[np.ndarray] = []
    for start in range(0, len(rows), chunk):
        k = np.minimum(counts[start : start + chunk], n_cols)
        keys = rng.standard_exponential((len(k), n_cols), dtype=np.float32)
        keys *= inverse[rows[start : start + chunk]]
        k_max = int(k.max(initial=0))
        if k_max == 0:
            continue
        top = (
            np.argpartition(keys, k_max - 1, axis=1)[:, :k_max]
            if k_max < n_cols
            else np.broadcast_to(np.arange(n_cols), keys.shape)
        )
        order = np.argsort(np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        picked.append(top[np.arange(k_max)[None, :] < k[:, None]])
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)


def save_tastes(path: Path, tastes: Tastes) -> None:
    """Write tastes as Parquet keyed by customerNumber; vocabularies and seed in the metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def matrix(values: np.ndarray) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])

    table = pa.table(
        {
            "customerNumber": pa.array(tastes.customer_number, pa.int64()),
            "lineWeights": matrix(tastes.line_weights),
            "vendorWeights": matrix(tastes.vendor_weights),
            "preferredScale": pa.array(tastes.preferred_scale.astype(str), pa.string()),
            "priceBand": pa.array(tastes.price_band.astype(str), pa.string()),
            "logPrice": pa.array(tastes.log_price, pa.float64()),
        }
    )
    meta = {
        "formula_version": FORMULA_VERSION,
        "lines": list(tastes.lines),
        "vendors": list(tastes.vendors),
        "seed": tastes.seed,
        "scale": tastes.scale,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata({_METADATA_KEY: json.dumps(meta)}), path)


def load_tastes(path: Path) -> Tastes:
    """Read tastes written by :func:`save_tastes`."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_METADATA_KEY])
    except (OSError, KeyError, ValueError) as exc:
        raise SourceError(f"cannot read tastes file {path}: {exc}") from None

    def matrix(name: str, width: int) -> np.ndarray:
        flat = table[name].combine_chunks().flatten().to_numpy()
        return flat.reshape(-1, width)

    return Tastes(
        customer_number=table["customerNumber"].to_numpy(),
        lines=tuple(meta["lines"]),
        vendors=tuple(meta["vendors"]),
        line_weights=matrix("lineWeights", len(meta["lines"])),
        vendor_weights=matrix("vendorWeights", len(meta["vendors"])),
        preferred_scale=np.asarray(table["preferredScale"].to_pylist(), dtype=str),
        price_band=np.asarray(table["priceBand"].to_pylist(), dtype=str),
        log_price=table["logPrice"].to_numpy(),
        seed=meta.get("seed"),
        scale=meta.get("scale"),
    )


def _customer_chunks(customers: np.ndarray, n_products: int) -> list[np.ndarray]:
    """Sorted unique customers in groups whose utility matrix stays a few million cells."""
    unique = np.unique(customers)
    size = max(1, _CELLS_PER_CHUNK // max(n_products, 1))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def choose_products(
    rng: np.random.Generator,
    utility_of: UtilityOf,
    buyer: np.ndarray,
    counts: np.ndarray,
    n_products: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order lines: for order ``i`` of customer ``buyer[i]``, ``counts[i]`` distinct products.

    Returns (order index, product index, line number from 1), sorted by order and line.
    """
    by_buyer = np.argsort(buyer, kind="stable")
    ordered = buyer[by_buyer]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for group in _customer_chunks(buyer, n_products):
        lo, hi = np.searchsorted(ordered, [group[0], group[-1] + 1])
        orders = by_buyer[lo:hi]
        k = np.minimum(counts[orders], n_products)
        local = np.searchsorted(group, buyer[orders])
        product = sample_without_replacement(rng, utility_of(group), local, k)
        starts = np.repeat(np.cumsum(k) - k, k)
        parts.append((np.repeat(orders, k), product, np.arange(len(product)) - starts + 1))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    order, product, line = (np.concatenate(p) for p in zip(*parts, strict=True))
    sort = np.lexsort((line, order))
    return order[sort], product[sort], line[sort]


def pair_utility(
    utility_of: UtilityOf, customer: np.ndarray, product: np.ndarray, n_products: int
) -> np.ndarray:
    """``u[customer[i], product[i]]`` for many pairs, without the whole matrix at once."""
    out = np.zeros(len(customer))
    for group in _customer_chunks(customer, n_products):
        mask = (customer >= group[0]) & (customer <= group[-1])
        out[mask] = utility_of(group)[np.searchsorted(group, customer[mask]), product[mask]]
    return out
