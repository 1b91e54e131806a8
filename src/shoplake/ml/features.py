"""Customer and product features read from the gold star schema, and their sklearn pipelines.

================  ======================================================  ====================
entity            features                                                encoding
================  ======================================================  ====================
product           product_line, product_scale, product_vendor             one-hot
product           buy_price, msrp, quantity_in_stock                      log1p, standardised
customer          city, country                                           one-hot (cities seen
                                                                          fewer than 5 times
                                                                          pooled)
customer          credit_limit, tenure_days                               standardised
================  ======================================================  ====================

``tenure_days`` counts the days from a customer's first order to the latest order date in the
pinned ``silver.orders`` snapshot (not the wall clock, so the same snapshot gives the same
features); customers without orders have tenure 0. The fitted pipelines are saved with each
model version. The product vectors drive the content-based model and the embeddings of products
nobody has bought yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    from sklearn.compose import ColumnTransformer

    from shoplake.ml.snapshots import PinnedTables

PRODUCTS_TABLE: Final = "gold.dim_products"
CUSTOMERS_TABLE: Final = "gold.dim_customers"
ORDERS_TABLE: Final = "silver.orders"

PRODUCT_CATEGORICAL: Final = ("product_line", "product_scale", "product_vendor")
PRODUCT_NUMERIC: Final = ("buy_price", "msrp", "quantity_in_stock")
PRODUCT_COLUMNS: Final = ("product_code", "product_name", *PRODUCT_CATEGORICAL, *PRODUCT_NUMERIC)
CUSTOMER_CATEGORICAL: Final = ("city", "country")
CUSTOMER_NUMERIC: Final = ("credit_limit", "tenure_days")
RARE_CITY: Final = 5


def load_products(pinned: PinnedTables) -> pa.Table:
    """Current products with their feature columns, sorted by product_code; prices as float64."""
    table = pinned.read(PRODUCTS_TABLE, PRODUCT_COLUMNS)
    return _floats(table, PRODUCT_NUMERIC).sort_by("product_code")


def load_customers(pinned: PinnedTables) -> pa.Table:
    """Current customers (customer_number, city, country, credit_limit, tenure_days), sorted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    customers = pinned.read(
        CUSTOMERS_TABLE,
        ("customer_number", "city", "country", "credit_limit"),
        row_filter="is_current = true",
    )
    orders = pinned.read(ORDERS_TABLE, ("customer_number", "order_date"))
    numbers = customers["customer_number"].cast(pa.int64())
    tenure = np.zeros(len(numbers))
    if orders.num_rows:
        first = orders.group_by("customer_number").aggregate([("order_date", "min")])
        as_of = pc.max(orders["order_date"])
        days = pc.days_between(first["order_date_min"], as_of).cast(pa.float64())
        position = pc.index_in(numbers, first["customer_number"].cast(pa.int64()))
        found = pc.is_valid(position).to_numpy(zero_copy_only=False)
        picked = pc.take(days, position.filter(pc.is_valid(position)))
        tenure[found] = picked.to_numpy(zero_copy_only=False)
    table = pa.table(
        {
            "customer_number": numbers,
            "city": customers["city"],
            "country": customers["country"],
            "credit_limit": customers["credit_limit"],
            "tenure_days": pa.array(tenure, pa.float64()),
        }
    )
    return _floats(table, ("credit_limit",)).sort_by("customer_number")


def _floats(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    import pyarrow as pa

    for name in columns:
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table[name].cast(pa.float64()))
    return table


def feature_frame(
    table: pa.Table, categorical: tuple[str, ...], numeric: tuple[str, ...]
) -> np.ndarray:
    """A 2-D object array for a pipeline: categorical columns (nulls as '') then numeric ones
    (nulls as NaN)."""
    parts = [
        np.asarray([v if v is not None else "" for v in table[name].to_pylist()], dtype=object)
        for name in categorical
    ]
    parts += [
        np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=np.float64).astype(object)
        for name in numeric
    ]
    return np.column_stack(parts)


def product_pipeline() -> ColumnTransformer:
    """One-hot line, scale and vendor; log1p then standardise prices and stock."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    n_cat = len(PRODUCT_CATEGORICAL)
    return ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), list(range(n_cat))),
            (
                "amounts",
                make_pipeline(
                    FunctionTransformer(np.log1p, validate=True, feature_names_out="one-to-one"),
                    StandardScaler(),
                ),
                list(range(n_cat, n_cat + len(PRODUCT_NUMERIC))),
            ),
        ],
        sparse_threshold=0.0,
    )


def customer_pipeline() -> ColumnTransformer:
    """One-hot city (rare ones pooled) and country; standardise credit limit and tenure."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    n_cat = len(CUSTOMER_CATEGORICAL)
    return ColumnTransformer(
        [
            (
                "city",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=RARE_CITY),
                [0],
            ),
            ("country", OneHotEncoder(handle_unknown="ignore"), [1]),
            (
                "amounts",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(range(n_cat, n_cat + len(CUSTOMER_NUMERIC))),
            ),
        ]
    )


def product_vectors(pipeline: ColumnTransformer, products: pa.Table) -> np.ndarray:
    """Encoded products, one unit-length float32 row each (zero rows stay zero)."""
    encoded = pipeline.transform(feature_frame(products, PRODUCT_CATEGORICAL, PRODUCT_NUMERIC))
    return unit_rows(np.asarray(encoded, dtype=np.float32))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length, for cosine similarity by dot product."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
