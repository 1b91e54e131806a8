"""The customer x product interaction matrix and the id maps around it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from shoplake.ml.interactions import Interactions


def lookup(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted unique array ``keys``; -1 where absent."""
    values = np.asarray(values)
    if keys.dtype.kind in "iu" and len(values):
        values = values.astype(keys.dtype)
    if not len(keys) or not len(values):
        return np.full(len(values), -1, dtype=np.int64)
    position = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    return np.where(keys[position] == values, position, -1).astype(np.int64)


@dataclass(frozen=True)
class InteractionMatrix:
    """Weights of ``customers[row]`` x ``products[column]`` (both sorted, unique).

    Rows cover every known customer, with or without interactions; columns every product of
    the catalogue, bought or not.
    """

    customers: np.ndarray  # int64 (U,)
    products: np.ndarray  # str (I,)
    matrix: csr_matrix  # float32 (U, I)

    @classmethod
    def build(
        cls, customers: np.ndarray, products: np.ndarray, interactions: Interactions
    ) -> InteractionMatrix:
        """Index interactions over the union of ``customers`` and the interacting customers.

        Interactions with a product outside ``products`` are left out.
        """
        from scipy.sparse import coo_matrix

        people = np.union1d(np.asarray(customers, dtype=np.int64), interactions.customer_number)
        catalogue = np.unique(np.asarray(products, dtype=str))
        column = lookup(catalogue, interactions.product_code)
        known = column >= 0
        row = lookup(people, interactions.customer_number[known])
        matrix = coo_matrix(
            (interactions.weight[known].astype(np.float32), (row, column[known])),
            shape=(len(people), len(catalogue)),
        ).tocsr()
        matrix.sum_duplicates()
        return cls(people, catalogue, matrix)

    def customer_rows(self, customer_numbers: np.ndarray) -> np.ndarray:
        return lookup(self.customers, np.asarray(customer_numbers, dtype=np.int64))

    def product_rows(self, product_codes: np.ndarray) -> np.ndarray:
        return lookup(self.products, np.asarray(product_codes, dtype=str))

    @cached_property
    def has_history(self) -> np.ndarray:
        """Per customer row: has at least one interaction."""
        return np.diff(self.matrix.indptr) > 0

    @cached_property
    def buyers(self) -> np.ndarray:
        """Per product column: number of customers who interacted with it."""
        return np.bincount(self.matrix.indices, minlength=len(self.products))
