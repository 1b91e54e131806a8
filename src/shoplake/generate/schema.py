"""The ClassicModels operational schema (version 3.1 of the public sample) plus ``ratings``.

Table and column names, types, keys and foreign keys follow the MySQL sample exactly, written
portably so the same schema is created in SQLite and PostgreSQL: ``int(11)`` -> INTEGER,
``smallint(6)`` -> SMALLINT, ``decimal(10,2)`` -> NUMERIC(10, 2), ``varchar(n)`` -> VARCHAR(n),
``text``/``mediumtext`` -> TEXT, ``mediumblob`` -> BLOB/BYTEA, ``date`` -> DATE.
Foreign keys are deferrable so a whole load can be checked at commit time on PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

metadata = MetaData()


def _fk(target: str) -> ForeignKey:
    return ForeignKey(target, deferrable=True, initially="DEFERRED")


def _int(name: str, *args: object, **kwargs: object) -> Column[int]:
    return Column(name, Integer, *args, autoincrement=False, **kwargs)  # type: ignore[arg-type]


offices = Table(
    "offices",
    metadata,
    Column("officeCode", String(10), primary_key=True),
    Column("city", String(50), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("addressLine1", String(50), nullable=False),
    Column("addressLine2", String(50)),
    Column("state", String(50)),
    Column("country", String(50), nullable=False),
    Column("postalCode", String(15), nullable=False),
    Column("territory", String(10), nullable=False),
)

employees = Table(
    "employees",
    metadata,
    _int("employeeNumber", primary_key=True),
    Column("lastName", String(50), nullable=False),
    Column("firstName", String(50), nullable=False),
    Column("extension", String(10), nullable=False),
    Column("email", String(100), nullable=False),
    Column("officeCode", String(10), _fk("offices.officeCode"), nullable=False),
    _int("reportsTo", _fk("employees.employeeNumber")),
    Column("jobTitle", String(50), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    _int("customerNumber", primary_key=True),
    Column("customerName", String(50), nullable=False),
    Column("contactLastName", String(50), nullable=False),
    Column("contactFirstName", String(50), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("addressLine1", String(50), nullable=False),
    Column("addressLine2", String(50)),
    Column("city", String(50), nullable=False),
    Column("state", String(50)),
    Column("postalCode", String(15)),
    Column("country", String(50), nullable=False),
    _int("salesRepEmployeeNumber", _fk("employees.employeeNumber")),
    Column("creditLimit", Numeric(10, 2)),
)

productlines = Table(
    "productlines",
    metadata,
    Column("productLine", String(50), primary_key=True),
    Column("textDescription", String(4000)),
    Column("htmlDescription", Text),
    Column("image", LargeBinary),
)

products = Table(
    "products",
    metadata,
    Column("productCode", String(15), primary_key=True),
    Column("productName", String(70), nullable=False),
    Column("productLine", String(50), _fk("productlines.productLine"), nullable=False),
    Column("productScale", String(10), nullable=False),
    Column("productVendor", String(50), nullable=False),
    Column("productDescription", Text, nullable=False),
    Column("quantityInStock", SmallInteger, nullable=False),
    Column("buyPrice", Numeric(10, 2), nullable=False),
    Column("MSRP", Numeric(10, 2), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    _int("orderNumber", primary_key=True),
    Column("orderDate", Date, nullable=False),
    Column("requiredDate", Date, nullable=False),
    Column("shippedDate", Date),
    Column("status", String(15), nullable=False),
    Column("comments", Text),
    _int("customerNumber", _fk("customers.customerNumber"), nullable=False),
)

orderdetails = Table(
    "orderdetails",
    metadata,
    _int("orderNumber", _fk("orders.orderNumber"), primary_key=True),
    Column("productCode", String(15), _fk("products.productCode"), primary_key=True),
    _int("quantityOrdered", nullable=False),
    Column("priceEach", Numeric(10, 2), nullable=False),
    Column("orderLineNumber", SmallInteger, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    _int("customerNumber", _fk("customers.customerNumber"), primary_key=True),
    Column("checkNumber", String(50), primary_key=True),
    Column("paymentDate", Date, nullable=False),
    Column("amount", Numeric(10, 2), nullable=False),
)

ratings = Table(
    "ratings",
    metadata,
    _int("customerNumber", primary_key=True),
    Column("productCode", String(15), primary_key=True),
    Column("productRating", SmallInteger, nullable=False),
    Column("ratedAt", DateTime, nullable=False),
    # Not in the sample (ratings is shoplake's addition): ingestion reads ratings by ratedAt.
    Index("ratings_ratedAt", "ratedAt"),
    CheckConstraint('"productRating" BETWEEN 1 AND 5', name="ratings_rating_range"),
    ForeignKeyConstraint(
        ["customerNumber"], ["customers.customerNumber"], deferrable=True, initially="DEFERRED"
    ),
    ForeignKeyConstraint(
        ["productCode"], ["products.productCode"], deferrable=True, initially="DEFERRED"
    ),
)

#: The eight ClassicModels tables, in the order the public dump declares them.
CLASSICMODELS_TABLES: tuple[str, ...] = (
    "customers",
    "employees",
    "offices",
    "orderdetails",
    "orders",
    "payments",
    "productlines",
    "products",
)

#: Every source table shoplake knows, parents before children (safe insert order).
SOURCE_TABLES: tuple[str, ...] = tuple(t.name for t in metadata.sorted_tables)


def create_schema(bind: Engine | Connection, *, drop_existing: bool = False) -> None:
    """Create the source tables (dropping shoplake's tables first when asked).

    Given a Connection, the DDL joins its open transaction.
    """
    if drop_existing:
        metadata.drop_all(bind)
    metadata.create_all(bind)
