"""Whatever an asset body raises reaches Dagster's run storage and compute logs redacted: a
shoplake error, a library's error, or a Failure chained to one, with no cause chain behind it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetExecutionContext, Definitions, Failure, MaterializeResult, asset

from shoplake.orchestrate.execute import execute, open_instance
from shoplake.orchestrate.guard import shielded
from shoplake.orchestrate.resources import ShoplakeResource
from tests.test_redact import _files_holding, _shoplake

#: A password holding "@" and ":" unescaped: URL parsers cut it, and their errors quote a piece.
CUT_URL = "postgresql+psycopg://alice:wr@1:ong9Secret@127.0.0.1/shop?sslpassword=kSecret2"
SECRETS = ("ong9Secret", "kSecret2")


def test_an_unparsable_source_url_is_one_line_without_any_piece_of_its_password(
    tmp_path: Path,
) -> None:
    done = _shoplake(tmp_path, "ingest", SHOPLAKE_SOURCE__URL=CUT_URL)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: invalid source URL 'postgresql+psycopg://alice:***@127.0.0.1/shop?sslpassword=***'"
        ": its port is not a number; percent-encode '/', '@' and ':' in its user name and "
        "password"
    ]
    assert _files_holding(tmp_path, *SECRETS) == []


@pytest.mark.integration
def test_a_run_whose_source_url_cannot_be_parsed_stores_no_piece_of_its_password(
    tmp_path: Path,
) -> None:
    done = _shoplake(
        tmp_path, "run", "--select", "bronze.orders",
        SHOPLAKE_SOURCE__URL=CUT_URL, SHOPLAKE_ORCHESTRATE__MAX_RETRIES="0",
    )  # fmt: skip
    assert done.returncode == 1
    assert "bronze.orders                failed: invalid source URL" in done.stdout
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
    storage = tmp_path / "dagster"
    assert list(storage.glob("history/runs/*.db")), "the run was not recorded"
    assert list(storage.rglob("compute_logs/*")), "no compute logs were written"
    assert _files_holding(tmp_path, *SECRETS) == []


# The wrapper itself, on assets that raise what no shoplake code catches -------------------

LEAKY = "postgresql://alice:pa/ss9Secret@db.internal/shop?sslpassword=kSecret2"


@asset(key_prefix="bronze")
@shielded
def library_error(context: AssetExecutionContext, shoplake: ShoplakeResource) -> MaterializeResult:
    """A library's own exception quoting a URL, as a driver's may."""
    raise RuntimeError(f"driver gave up on {LEAKY} after 3 tries")


@asset(key_prefix="bronze")
@shielded
def chained_failure(
    context: AssetExecutionContext, shoplake: ShoplakeResource
) -> Iterator[MaterializeResult]:
    """A generator body failing with a clean Failure chained to a leaky error."""
    yield from ()
    try:
        raise KeyError(f"no route to {LEAKY}")
    except KeyError as exc:
        raise Failure("bronze.x: the source went away", allow_retries=False) from exc


def test_errors_raised_in_asset_bodies_are_stored_redacted_with_no_cause(tmp_path: Path) -> None:
    resource = ShoplakeResource(data_dir=str(tmp_path))
    defs = Definitions(assets=[library_error, chained_failure], resources={"shoplake": resource})
    with open_instance(tmp_path / "dagster") as instance:
        summary = execute(defs, instance, ["bronze.library_error", "bronze.chained_failure"])
    errors = {a.asset: (a.outcome, a.error) for a in summary.assets}
    assert errors == {
        "bronze.library_error": (
            "failed",
            "driver gave up on postgresql://alice:***@db.internal/shop?sslpassword=*** "
            "after 3 tries",
        ),
        "bronze.chained_failure": ("failed", "bronze.x: the source went away"),
    }
    assert list((tmp_path / "dagster").rglob("compute_logs/*")), "no compute logs were written"
    assert _files_holding(tmp_path / "dagster", "9Secret", "kSecret2", "no route to") == []


def test_a_typo_among_the_selected_assets_is_named_alone_with_a_suggestion(
    tmp_path: Path,
) -> None:
    from shoplake.errors import ShoplakeError
    from shoplake.orchestrate.definitions import build_definitions
    from shoplake.platform import Platform

    defs = build_definitions(Platform(data_dir=tmp_path))
    with open_instance(tmp_path / "dagster") as instance, pytest.raises(ShoplakeError) as error:
        execute(defs, instance, ["silver.orders", "silver.ordrs+", "gold.nothing_like_it"])
    assert str(error.value) == (
        "no asset matches silver.ordrs+ (did you mean silver.orders?), gold.nothing_like_it: "
        "name a table (silver.orders), optionally with + for its downstream, or a group "
        "(ingest, transform, ml)"
    )
    assert instance.get_runs() == []  # nothing ran
