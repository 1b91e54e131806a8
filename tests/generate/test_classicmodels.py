"""The public ClassicModels dump loads unchanged into SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shoplake.errors import SourceDumpError, SourceError
from shoplake.generate.classicmodels import (
    FALLBACK_RATED_AT,
    load_classicmodels,
    load_ratings_csv,
    read_classicmodels_dump,
)
from shoplake.generate.schema import CLASSICMODELS_TABLES, metadata

# SQLite stores NUMERIC as REAL; SQLAlchemy warns when it turns values back into Decimal.
from tests.support.classicmodels import DUMP_COUNTS as EXPECTED_COUNTS
from tests.support.classicmodels import RATINGS_IN_CSV

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite")


# An orderdetails row of the dump: (orderNumber,'productCode',quantityOrdered,'priceEach',line)
ORDER_LINE = re.compile(r"^\((\d+),'[^']*',(\d+),'(\d+\.\d\d)',(\d+)\)", re.MULTILINE)


def dump_revenue(dump: Path) -> tuple[int, Decimal]:
    """sum(quantityOrdered × priceEach) straight from the dump text, independent of the loader."""
    lines = ORDER_LINE.findall(dump.read_text(encoding="utf-8"))
    return len(lines), sum((int(q) * Decimal(p) for _, q, p, _ in lines), Decimal(0))


def fetch(url: str, statement: Any) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def db_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: conn.execute(
                    sa.select(sa.func.count()).select_from(metadata.tables[name])
                ).scalar_one()
                for name in (*CLASSICMODELS_TABLES, "ratings")
            }
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def credit_limit(url: str, customer: int) -> Decimal:
    customers = metadata.tables["customers"]
    query = sa.select(customers.c.creditLimit).where(customers.c.customerNumber == customer)
    value: Decimal = fetch(url, query)[0][0]
    return value


def mutated(dump: Path, target: Path, old: str, new: str) -> Path:
    """A copy of the dump with one exact change (bytes otherwise identical, CRLFs kept)."""
    text = dump.read_bytes().decode("utf-8")
    assert text.count(old) == 1, old
    target.write_bytes(text.replace(old, new).encode("utf-8"))
    return target


def line_of(path: Path, fragment: str) -> int:
    """The line (as grep -n counts) where ``fragment`` starts."""
    text = path.read_bytes().decode("utf-8")
    return text[: text.index(fragment)].count("\n") + 1


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty source: a SQLite file, or a fresh database on the embedded PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.db'}"
    url: str = request.getfixturevalue("fresh_postgres_db")
    return url


@pytest.fixture
def loaded(source_url: str, classicmodels_dump: Path) -> str:
    assert load_classicmodels(source_url, classicmodels_dump) == EXPECTED_COUNTS
    return source_url


# --- the real dump --------------------------------------------------------------------------


def test_load_gives_exact_counts_and_is_repeatable(source_url: str, classicmodels_dump: Path):
    first = load_classicmodels(source_url, classicmodels_dump)
    assert first == EXPECTED_COUNTS
    assert db_counts(source_url) == {**EXPECTED_COUNTS, "ratings": 0}

    second = load_classicmodels(source_url, classicmodels_dump)
    assert second == first
    assert db_counts(source_url) == {**EXPECTED_COUNTS, "ratings": 0}


def test_revenue_is_exact_to_the_cent(loaded: str, classicmodels_dump: Path):
    lines, revenue = dump_revenue(classicmodels_dump)
    assert lines == EXPECTED_COUNTS["orderdetails"]
    assert revenue == Decimal("9604190.61")

    total = fetch(loaded, sa.text('SELECT sum("quantityOrdered" * "priceEach") FROM orderdetails'))
    value = total[0][0]
    if isinstance(value, float):  # SQLite keeps NUMERIC as REAL: exact to the cent, not beyond
        value = Decimal(f"{value:.2f}")
    assert value == revenue

    details = metadata.tables["orderdetails"]
    typed = fetch(loaded, sa.select(details.c.quantityOrdered, details.c.priceEach))
    assert sum((q * p for q, p in typed), Decimal(0)) == revenue


def test_values_load_unchanged(loaded: str):
    customers, products = metadata.tables["customers"], metadata.tables["products"]
    orders, employees = metadata.tables["orders"], metadata.tables["employees"]

    rows = fetch(
        loaded,
        sa.select(
            customers.c.customerNumber,
            customers.c.customerName,
            customers.c.contactFirstName,
            customers.c.city,
            customers.c.addressLine2,
            customers.c.creditLimit,
        ).where(customers.c.customerNumber.in_([103, 144, 172, 496])),
    )
    assert sorted(tuple(r) for r in rows) == [
        (103, "Atelier graphique", "Carine ", "Nantes", None, Decimal("21000.00")),
        (144, "Volvo Model Replicas, Co", "Christina ", "Luleå", None, Decimal("53100.00")),
        (172, "La Corne D'abondance, Co.", "Marie", "Paris", None, Decimal("84300.00")),
        (496, "Kelly's Gift Shop", "Tony", "Auckland  ", None, Decimal("110000.00")),
    ]

    product = fetch(
        loaded,
        sa.select(products.c.buyPrice, products.c.MSRP, products.c.quantityInStock).where(
            products.c.productCode == "S10_1678"
        ),
    )
    assert [tuple(r) for r in product] == [(Decimal("48.81"), Decimal("95.70"), 7933)]

    descriptions = dict(
        fetch(
            loaded,
            sa.select(products.c.productCode, products.c.productDescription).where(
                products.c.productCode.in_(["S72_3212", "S700_3167"])
            ),
        )
    )
    assert descriptions["S72_3212"].startswith(
        "Measures 38 inches Long x 33 3/4 inches High. Includes a stand.\r\nMany extras"
    )
    assert descriptions["S700_3167"].startswith('10" Wingspan with retractable landing gears.')

    order = fetch(
        loaded,
        sa.select(
            orders.c.orderDate, orders.c.requiredDate, orders.c.shippedDate, orders.c.comments
        ).where(orders.c.orderNumber == 10100),
    )
    assert [tuple(r) for r in order] == [
        (dt.date(2003, 1, 6), dt.date(2003, 1, 13), dt.date(2003, 1, 10), None)
    ]

    president = fetch(
        loaded,
        sa.select(employees.c.reportsTo, employees.c.officeCode).where(
            employees.c.employeeNumber == 1002
        ),
    )
    assert [tuple(r) for r in president] == [(None, "1")]


def test_every_row_round_trips(loaded: str, classicmodels_dump: Path):
    parsed = read_classicmodels_dump(classicmodels_dump)
    for name in CLASSICMODELS_TABLES:
        table = metadata.tables[name]
        key = [c.name for c in table.primary_key.columns]
        stored = [dict(r._mapping) for r in fetch(loaded, sa.select(table))]
        assert sorted(stored, key=lambda r: [r[c] for c in key]) == sorted(
            parsed[name], key=lambda r: [r[c] for c in key]
        ), name


def test_mysql_string_escapes_are_decoded(tmp_path: Path, classicmodels_dump: Path):
    literal = r"'a\'b\"c\\d\ne\rf\tg\0h''i\Zj\%k\_l\qm'"
    dump = mutated(classicmodels_dump, tmp_path / "d.sql", "'Atelier graphique'", literal)
    dump = mutated(dump, tmp_path / "d2.sql", "'Schmitt','Carine '", '"Sch""mi\'tt",\'Carine \'')
    customer = read_classicmodels_dump(dump)["customers"][0]
    assert customer["customerName"] == "a'b\"c\\d\ne\rf\tg\x00h'i\x1aj\\%k\\_lqm"
    assert customer["contactLastName"] == "Sch\"mi'tt"
    assert customer["contactFirstName"] == "Carine "


# --- bad dumps ------------------------------------------------------------------------------

TERRITORY = "  `territory` varchar(10) NOT NULL,\r\n"
BAD_DUMPS = {
    "unknown column in CREATE TABLE": (
        TERRITORY,
        TERRITORY + "  `loyaltyTier` varchar(10) DEFAULT NULL,\r\n",
        "`loyaltyTier`",
        ["CREATE TABLE `offices`", "unknown column `offices`.`loyaltyTier`"],
    ),
    "unknown column in INSERT": (
        "`paymentDate`,`amount`) values",
        "`paymentDate`,`amountPaid`) values",
        "insert  into `payments`",
        ["INSERT into `payments`", "unknown column `payments`.`amountPaid`"],
    ),
    "unknown table": (
        "CREATE TABLE `productlines`",
        "CREATE TABLE `product_lines`",
        "CREATE TABLE `product_lines`",
        ["unknown table `product_lines`"],
    ),
    "invalid date": (
        "(10100,'2003-01-06'",
        "(10100,'2003-02-30'",
        "(10100,'2003-02-30'",
        ["INSERT into `orders`", "row 1, column `orderDate`", "'2003-02-30' is not a date"],
    ),
    "too few values": (
        "1370,'21000.00'),",
        "1370),",
        "(103,'Atelier graphique'",
        ["INSERT into `customers`", "row 1", "expected ',' before value 13 of 13, got ')'"],
    ),
    "NULL in NOT NULL column": (
        "'Atelier graphique'",
        "NULL",
        "(103,NULL",
        ["INSERT into `customers`", "column `customerName`", "NULL in a NOT NULL column"],
    ),
    "too many decimal places": (
        "'21000.00'),\r\r\n(112,",
        "'21000.005'),\r\r\n(112,",
        "(103,'Atelier graphique'",
        ["`customers`", "column `creditLimit`", "'21000.005' has more than 2 decimal places"],
    ),
    "string too long": (
        "'Atelier graphique'",
        "'" + "A" * 51 + "'",
        "(103,'AAAA",
        ["`customers`", "column `customerName`", "51 characters, longer than 50"],
    ),
    "duplicate primary key": (
        "(112,'Signal Gift Stores'",
        "(103,'Signal Gift Stores'",
        "(103,'Signal Gift Stores'",
        ["INSERT into `customers`", "row 2", "duplicate primary key (103,) (first at line 55)"],
    ),
    "dangling foreign key": (
        "'2003-01-10','Shipped',NULL,363)",
        "'2003-01-10','Shipped',NULL,999)",
        "(10100,'2003-01-06'",
        ["INSERT into `orders`", "row 1", "customerNumber=999 has no match in `customers`"],
    ),
    "unsupported statement": (
        "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;",
        "UPDATE `customers` SET `creditLimit` = 0;",
        "UPDATE `customers`",
        ["unsupported statement 'UPDATE'"],
    ),
}


@pytest.mark.parametrize("case", BAD_DUMPS, ids=list(BAD_DUMPS))
def test_bad_dump_names_table_column_and_line(tmp_path: Path, classicmodels_dump: Path, case):
    old, new, locate, fragments = BAD_DUMPS[case]
    dump = mutated(classicmodels_dump, tmp_path / "bad.sql", old, new)
    with pytest.raises(SourceDumpError) as caught:
        read_classicmodels_dump(dump)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{dump}:{line_of(dump, locate)}: "), message
    for fragment in fragments:
        assert fragment in message, message


def truncated(dump: Path, target: Path, after: str, extra: int) -> tuple[Path, int]:
    """The dump cut ``extra`` characters after ``after``; returns it and the cut's line."""
    text = dump.read_bytes().decode("utf-8")
    cut = text.index(after) + extra
    target.write_bytes(text[:cut].encode("utf-8"))
    return target, text[:cut].count("\n") + 1


def test_truncated_insert_inside_a_string(tmp_path: Path, classicmodels_dump: Path):
    dump, line = truncated(classicmodels_dump, tmp_path / "cut.sql", "(10250,'S18_2581'", 8)
    with pytest.raises(SourceDumpError) as caught:
        read_classicmodels_dump(dump)
    assert str(caught.value) == (
        f"{dump}:{line}: INSERT into `orderdetails`: row 1382, column `productCode`: "
        "unterminated ' quote (truncated dump?)"
    )


def test_truncated_insert_between_rows(tmp_path: Path, classicmodels_dump: Path):
    dump, line = truncated(classicmodels_dump, tmp_path / "cut.sql", "(10250,'S18_2581'", 0)
    with pytest.raises(SourceDumpError) as caught:
        read_classicmodels_dump(dump)
    assert str(caught.value) == (
        f"{dump}:{line - 1}: INSERT into `orderdetails`: row 1382: expected '(', "
        "got the end of the file (truncated dump?)"
    )


def test_bad_dump_leaves_a_loaded_source_unchanged(
    loaded: str, tmp_path: Path, classicmodels_dump: Path
):
    execute(loaded, 'UPDATE customers SET "creditLimit" = 1 WHERE "customerNumber" = 103')
    bad_column = mutated(
        classicmodels_dump, tmp_path / "bad.sql", TERRITORY, TERRITORY + "  `x` int(11),\r\n"
    )
    cut, _ = truncated(classicmodels_dump, tmp_path / "cut.sql", "(10250,'S18_2581'", 8)
    for dump in (bad_column, cut):
        with pytest.raises(SourceDumpError):
            load_classicmodels(loaded, dump)

    assert db_counts(loaded) == {**EXPECTED_COUNTS, "ratings": 0}
    assert credit_limit(loaded, 103) == Decimal("1.00")


@pytest.mark.integration
def test_failed_write_rolls_back_schema_and_rows(
    fresh_postgres_db: str, tmp_path: Path, classicmodels_dump: Path
):
    """PostgreSQL refuses NUL in text: the load fails after DROP/CREATE, in one transaction."""
    url = fresh_postgres_db
    load_classicmodels(url, classicmodels_dump)
    execute(url, 'UPDATE customers SET "creditLimit" = 1 WHERE "customerNumber" = 103')
    dump = mutated(
        classicmodels_dump, tmp_path / "nul.sql", "'Atelier graphique'", r"'Atelier\0graphique'"
    )
    assert read_classicmodels_dump(dump)["customers"][0]["customerName"] == "Atelier\x00graphique"

    with pytest.raises(SourceError) as caught:
        load_classicmodels(url, dump)
    assert "while inserting into `customers` (nothing was changed)" in str(caught.value)
    assert "\n" not in str(caught.value)

    assert db_counts(url) == {**EXPECTED_COUNTS, "ratings": 0}
    assert credit_limit(url, 103) == Decimal("1.00")


# --- ratings --------------------------------------------------------------------------------


def test_ratings_csv_loads_every_pair(loaded: str, classicmodels_ratings_csv: Path):
    assert load_ratings_csv(loaded, classicmodels_ratings_csv) == RATINGS_IN_CSV
    assert load_ratings_csv(loaded, classicmodels_ratings_csv) == RATINGS_IN_CSV
    assert db_counts(loaded)["ratings"] == RATINGS_IN_CSV

    ratings = metadata.tables["ratings"]
    rows = fetch(
        loaded,
        sa.select(
            ratings.c.customerNumber,
            ratings.c.productCode,
            ratings.c.productRating,
            ratings.c.ratedAt,
        ).where(ratings.c.customerNumber.in_([119, 489])),
    )
    by_pair = {(c, p): (r, at) for c, p, r, at in rows}
    # 489 ordered S24_2887 last on 2004-01-22; 119 ordered S18_2238 last on 2005-05-31.
    assert by_pair[489, "S24_2887"] == (5, dt.datetime(2004, 1, 23, 12, 0))
    assert by_pair[119, "S18_2238"] == (2, dt.datetime(2005, 6, 1, 12, 0))
    histogram = fetch(
        loaded,
        sa.select(ratings.c.productRating, sa.func.count())
        .group_by(ratings.c.productRating)
        .order_by(ratings.c.productRating),
    )
    assert [tuple(r) for r in histogram] == [(1, 224), (2, 562), (3, 859), (4, 632), (5, 255)]


def test_ratings_keep_the_last_row_of_a_pair(tmp_path: Path, classicmodels_dump: Path):
    url = f"sqlite:///{tmp_path / 'source.db'}"
    load_classicmodels(url, classicmodels_dump)
    csv_path = tmp_path / "ratings.csv"
    csv_path.write_text(
        "productrating,customernumber,productcode\n"
        "4,103,S10_1678\n"
        "2,112,S18_2238\n"
        "1,103,S10_1678\n",
        encoding="utf-8",
    )
    assert load_ratings_csv(url, csv_path) == 2
    ratings = metadata.tables["ratings"]
    rows = fetch(
        url,
        sa.select(
            ratings.c.customerNumber,
            ratings.c.productCode,
            ratings.c.productRating,
            ratings.c.ratedAt,
        ).order_by(ratings.c.customerNumber),
    )
    # Neither customer ordered that product: the fixed fallback timestamp.
    assert [tuple(r) for r in rows] == [
        (103, "S10_1678", 1, FALLBACK_RATED_AT),
        (112, "S18_2238", 2, FALLBACK_RATED_AT),
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("3,999,S10_1678\n", "ratings.csv:2: customernumber 999 is not in the source's customers"),
        ("3,103,S99_0000\n", "ratings.csv:2: productcode 'S99_0000' is not in the source's"),
        ("6,103,S10_1678\n", "ratings.csv:2: productrating '6' is not an integer 1..5"),
    ],
)
def test_bad_ratings_csv_changes_nothing(
    tmp_path: Path, classicmodels_dump: Path, classicmodels_ratings_csv: Path, body, fragment
):
    url = f"sqlite:///{tmp_path / 'source.db'}"
    load_classicmodels(url, classicmodels_dump)
    load_ratings_csv(url, classicmodels_ratings_csv)
    csv_path = tmp_path / "ratings.csv"
    csv_path.write_text("productrating,customernumber,productcode\n" + body, encoding="utf-8")
    with pytest.raises(SourceDumpError, match=re.escape(fragment)):
        load_ratings_csv(url, csv_path)
    assert db_counts(url)["ratings"] == RATINGS_IN_CSV
