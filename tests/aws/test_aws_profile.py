"""The ``aws`` profile end to end — Iceberg on S3 with the Glue catalog, Kinesis, PostgreSQL as
the source and pgvector — against moto's server and embedded PostgreSQL, compared with the local
profile on the same source: the same gold figures, sessions, model metrics and served lists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoplake.platform import Platform
from shoplake.services import free_port
from tests.support.aws import create_bucket, moto_endpoint
from tests.support.streams import local_valkey

EVENTS = 3000
FIGURES = {
    "facts": "SELECT count(*) AS n, sum(order_amount) AS revenue, sum(profit) AS profit "
    "FROM gold.fact_orders",
    "by_year": "SELECT year(order_date) AS y, sum(order_amount) AS revenue FROM gold.fact_orders "
    "GROUP BY 1 ORDER BY 1",
    "mart": "SELECT count(*) AS n, sum(revenue) AS revenue, sum(units) AS units "
    "FROM gold.sales_by_month",
    "customers": "SELECT count(*) AS n FROM gold.dim_customers",
    "interactions": "SELECT count(*) AS n, round(sum(weight), 6) AS w FROM gold.interactions",
    "sessions": "SELECT count(*) AS n, sum(events) AS events, sum(CAST(converted AS INTEGER)) "
    "AS converted FROM silver.sessions",
    "events": "SELECT count(*) AS n FROM bronze.events",
    "dead": "SELECT count(*) AS n FROM bronze.dead_letters",
}


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def source_url(
    postgres_server: Any, classicmodels_dump: Path, classicmodels_ratings_csv: Path
) -> str:
    """The real ClassicModels (and its ratings) in PostgreSQL: the RDS stand-in."""
    url = str(postgres_server.create_database("aws"))
    Platform(**{"source.url": url}).load_classicmodels(
        classicmodels_dump, classicmodels_ratings_csv
    )
    return url


def _pipeline(shop: Platform) -> tuple[dict[str, Any], Any]:
    """ingest → transform → stream → transform → train; the figures to compare."""
    assert shop.ingest().ok
    assert shop.transform().ok
    shop.produce(events=EVENTS, bad_rate=0.01, seed=5)
    processed = shop.process(until_idle=True)
    assert processed.valid > 0 and processed.invalid > 0
    report = shop.transform()
    assert report.ok, [(r.model, r.error) for r in report.results if r.error]
    trained = shop.train()
    figures = {name: shop.query(sql).table.to_pylist() for name, sql in FIGURES.items()}
    return figures, trained


def _served(shop: Platform, customers: list[int]) -> dict[int, list[str]]:
    """What the API answers for each customer, through the real app."""
    from fastapi.testclient import TestClient

    from shoplake.serve.app import create_app
    from shoplake.serve.keys import create_key

    _, key = create_key(shop.settings, "app")
    with TestClient(create_app(shop.settings)) as client:
        answers = {}
        for customer in customers:
            response = client.get(f"/recommendations/{customer}", headers={"X-API-Key": key})
            assert response.status_code == 200, response.text
            answers[customer] = [item["product_code"] for item in response.json()["items"]]
    return answers


def test_the_aws_profile_gives_the_local_profiles_results(
    moto: str, source_url: str, tmp_path: Path
) -> None:
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    create_bucket(moto, bucket)
    port = free_port()
    local = Platform(
        data_dir=tmp_path / "local",
        **{"source.url": source_url, "services.valkey_port": port, "stream.prefix": "local"},
    )
    aws = Platform(
        data_dir=tmp_path / "aws",
        profile="aws",
        **{
            "source.url": source_url,
            "aws.endpoint_url": moto,
            "aws.bucket": bucket,
            "stream.kinesis_stream": f"events-{bucket}",
            "stream.url": f"redis://127.0.0.1:{port}/1",  # the Redis online store, database 1
            "vectors.url": source_url,  # pgvector in the RDS stand-in
        },
    )
    assert (aws.settings.stream.backend, aws.settings.vectors.backend) == ("kinesis", "pgvector")
    assert aws.settings.warehouse == f"s3://{bucket}/warehouse"
    with local_valkey(local.settings):
        local_figures, local_model = _pipeline(local)
        aws_figures, aws_model = _pipeline(aws)
        customers = [103, 112, 114, 119, 121]
        assert _served(aws, customers) == _served(local, customers)

    assert aws_figures == local_figures
    facts = aws_figures["facts"][0]
    assert facts["n"] == 2996
    assert aws_figures["events"][0]["n"] > 0 and aws_figures["dead"][0]["n"] > 0
    assert {m.model: round(m.ndcg, 9) for m in aws_model.metrics} == {
        m.model: round(m.ndcg, 9) for m in local_model.metrics
    }
    # The data really is in S3 and the tables in Glue.
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="warehouse/")["Contents"]]
    assert any(k.startswith("warehouse/gold.db/fact_orders/data/") for k in keys), keys[:5]
    glue = boto3.client("glue", endpoint_url=moto, region_name="us-east-1")
    gold = {t["Name"] for t in glue.get_tables(DatabaseName="gold")["TableList"]}
    assert {"fact_orders", "dim_customers", "recommendations"} <= gold


def test_a_missing_bucket_is_one_line_saying_what_to_do(moto: str, tmp_path: Path) -> None:
    from shoplake.errors import LakeError

    shop = Platform(
        data_dir=tmp_path, profile="aws", **{"aws.endpoint_url": moto, "aws.bucket": "nope-x1"}
    )
    with pytest.raises(LakeError) as error:
        _ = shop.catalog
    assert str(error.value) == (
        "lakehouse bucket s3://nope-x1 does not exist — deploy infra/aws (`make synth`, "
        "then `cdk deploy`) or fix aws.bucket"
    )
