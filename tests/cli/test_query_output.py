"""`shoplake query` prints what Python's types cannot hold (dates past 9999, infinities,
intervals, nested values) in every output, keeps repeated column names apart, refuses statement
types its guard does not know, and says when the byte limit cut the result."""

from __future__ import annotations

import json

import pytest

from shoplake.platform import Platform
from tests.cli.test_cli import run
from tests.lake.conftest import tiny  # noqa: F401  (fixture)

ODD = (
    "SELECT 'infinity'::date AS d, '10000-01-01'::date AS y, '-infinity'::timestamp AS t, "
    "'nan'::double AS n, INTERVAL '3 hours' AS i, [DATE '10000-01-01'] AS l, 1 AS a, 2 AS a"
)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "json",
            [
                {
                    "d": "infinity",
                    "y": "+10000-01-01",
                    "t": "-infinity",
                    "n": "nan",
                    "i": "PT3H",
                    "l": ["+10000-01-01"],
                    "a": 1,
                    "a_1": 2,
                }
            ],
        ),
        (
            "csv",
            [
                '"d","y","t","n","i","l","a","a"',
                '"infinity","+10000-01-01","-infinity",nan,"PT3H","[""+10000-01-01""]",1,2',
            ],
        ),
    ],
)
def test_odd_values_in_json_and_csv(tiny: Platform, output: str, expected: object) -> None:  # noqa: F811
    result = run("--data-dir", str(tiny.settings.data_dir), "query", ODD, "--output", output)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    printed = json.loads(result.stdout) if output == "json" else result.stdout.splitlines()
    assert printed == expected


def test_odd_values_in_the_table(tiny: Platform) -> None:  # noqa: F811
    result = run("--data-dir", str(tiny.settings.data_dir), "query", ODD)
    assert result.returncode == 0, result.stderr
    header, _rule, row = result.stdout.splitlines()[:3]
    assert header.split() == ["d", "┃", "y", "┃", "t", "┃", "n", "┃", "i", "┃", "l", "┃", "a",
                              "┃", "a_1"]  # fmt: skip
    assert row.split("│")[:5] == [
        "infinity ",
        " +10000-01-01 ",
        " -infinity ",
        " nan ",
        " PT3H ",
    ]


def test_an_unknown_statement_type_is_refused(tiny: Platform) -> None:  # noqa: F811
    result = run("--data-dir", str(tiny.settings.data_dir), "query", "UPDATE EXTENSIONS")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: refused: UPDATE statement; only a single read-only SELECT is allowed"
    )


def test_the_byte_limit_is_named(tiny: Platform) -> None:  # noqa: F811
    result = run(
        "--data-dir",
        str(tiny.settings.data_dir),
        "query",
        "SELECT repeat('x', 250000000) AS big",
        "--output",
        "json",
        env={"SHOPLAKE_QUERY__MAX_BYTES": "1000"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert "showing the first 0 rows: the result passed query.max_bytes" in result.stderr
