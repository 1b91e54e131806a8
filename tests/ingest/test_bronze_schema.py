"""Schema drift rules: what evolves bronze and what is refused, with the message users see."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shoplake.errors import SchemaDriftError
from shoplake.ingest.bronze import plan_schema
from shoplake.ingest.columns import SourceColumn


def cols(**types: pa.DataType) -> list[SourceColumn]:
    return [SourceColumn(name, kind, True) for name, kind in types.items()]


def test_unchanged_schema_plans_nothing() -> None:
    plan = plan_schema("t", cols(a=pa.int64(), b=pa.string()), cols(a=pa.int64(), b=pa.string()))
    assert not plan.changes_schema
    assert [c.name for c in plan.write_columns] == ["a", "b"]


def test_new_column_is_added_at_the_end() -> None:
    plan = plan_schema(
        "t", cols(a=pa.int64(), new=pa.string(), b=pa.string()), cols(a=pa.int64(), b=pa.string())
    )
    assert [c.name for c in plan.added] == ["new"]
    assert [c.name for c in plan.write_columns] == ["a", "b", "new"]
    assert plan.describe("t") == ["bronze.t: new source column 'new' (string) added"]


def test_safe_widening_is_promoted_and_narrowing_is_stored_as_is() -> None:
    bronze = cols(a=pa.int32(), d=pa.decimal128(10, 2), n=pa.int64())
    source = cols(a=pa.int64(), d=pa.decimal128(12, 2), n=pa.int32())
    plan = plan_schema("t", source, bronze)
    assert [(c.name, str(old)) for c, old in plan.promoted] == [
        ("a", "int32"),
        ("d", "decimal128(10, 2)"),
    ]
    assert [c.arrow_type for c in plan.write_columns] == [
        pa.int64(),
        pa.decimal128(12, 2),
        pa.int64(),
    ]


def test_incompatible_type_change_is_refused_naming_table_and_column() -> None:
    with pytest.raises(SchemaDriftError) as info:
        plan_schema("products", cols(quantityInStock=pa.string()), cols(quantityInStock=pa.int32()))
    assert str(info.value).startswith(
        "products.quantityInStock: source type changed from int32 to string, "
        "which bronze cannot store"
    )


def test_dropped_column_is_refused_naming_table_and_column() -> None:
    with pytest.raises(SchemaDriftError) as info:
        plan_schema("customers", cols(a=pa.int64()), cols(a=pa.int64(), addressLine2=pa.string()))
    assert str(info.value).startswith("customers.addressLine2: column was dropped from the source")
