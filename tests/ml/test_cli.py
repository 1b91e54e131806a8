"""`train`, `models`, `recommend` and `similar` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoplake.platform import Platform
from tests.cli.test_cli import run
from tests.ml.conftest import build_generated, scalar

NOT_TRAINED = "error: no model trained yet: run `shoplake train`\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return build_generated(tmp_path_factory.mktemp("ml-cli"), scale=0.01)


def shoplake(lake: Platform, *args: str) -> tuple[int, str, str]:
    result = run("--data-dir", str(lake.settings.data_dir), *args)
    return result.returncode, result.stdout, result.stderr


def test_commands_before_any_training(lake: Platform) -> None:
    assert shoplake(lake, "recommend", "103") == (1, "", NOT_TRAINED)
    assert shoplake(lake, "similar", "S10_2556") == (1, "", NOT_TRAINED)
    assert shoplake(lake, "models", "show") == (1, "", NOT_TRAINED)
    assert shoplake(lake, "models", "list") == (0, "", NOT_TRAINED.removeprefix("error: "))


def test_train_on_an_empty_lakehouse_says_what_to_run(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "train")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: gold.interactions has no data yet: run `shoplake ingest` and `shoplake transform`"
    )


def test_train_list_show_recommend_similar_promote(lake: Platform) -> None:
    code, stdout, _ = shoplake(lake, "train", "--output", "json")
    assert code == 0
    trained = json.loads(stdout)
    assert (trained["version"], trained["promoted"]) == ("v0001", True)
    assert trained["metrics"] == lake.model("v0001").metrics
    assert [m["model"] for m in trained["metrics"]] == ["popularity", "content", "als", "oracle"]

    code, stdout, _ = shoplake(lake, "models", "list", "--output", "json")
    assert [(m["version"], m["promoted"]) for m in json.loads(stdout)] == [("v0001", True)]

    code, stdout, stderr = shoplake(lake, "recommend", "103", "--limit", "3", "--output", "json")
    assert json.loads(stdout) == lake.recommend(103, 3).as_dict()
    code, stdout, stderr = shoplake(lake, "recommend", "103", "-n", "3")
    served = lake.recommend(103, 3)
    assert stderr == "customer 103 · model v0001 · als\n"
    lines = stdout.splitlines()
    header = [cell.strip() for cell in lines[0].split("┃")]
    assert header == ["rank", "product_code", "product_name", "product_line", "score"]
    assert len(lines) == 2 + 3
    first = served.items[0]
    assert lines[2].startswith("   1 │ " + first.product_code)
    assert lines[2].endswith(f"{first.score:.4f}")

    assert shoplake(lake, "recommend", "999") == (
        1,
        "",
        "error: customer 999 is unknown to model v0001\n",
    )
    _, stdout, _ = shoplake(lake, "similar", "S10_2556", "--limit", "2", "--output", "json")
    assert json.loads(stdout) == [vars(s) for s in lake.similar("S10_2556", 2)]
    assert shoplake(lake, "similar", "NOPE") == (1, "", "error: product NOPE is unknown\n")

    code, stdout, stderr = shoplake(lake, "train")
    assert code == 0
    assert "evaluating als" in stderr and "registered v0002" in stderr
    assert stdout.splitlines()[-1] == "not promoted: `shoplake models promote v0002` serves it"
    assert shoplake(lake, "models", "promote", "v0009") == (
        1,
        "",
        "error: no model version 'v0009' (versions: v0001, v0002)\n",
    )
    with_history = scalar(lake, "SELECT count(DISTINCT customer_number) FROM gold.interactions")
    assert shoplake(lake, "models", "promote", "v0002") == (
        0,
        f"promoted v0002: gold.user_embeddings ({with_history} rows), gold.item_embeddings "
        "(110 rows), gold.recommendations (1,000 rows), vector index items (110 rows)\n",
        "",
    )
    _, stdout, _ = shoplake(lake, "models", "show", "v0002", "--output", "json")
    shown = json.loads(stdout)
    assert (shown["version"], shown["promoted"], shown["served_model"]) == ("v0002", True, "als")
    assert shown["config"] == lake.settings.ml.model_dump(mode="json")
    _, stdout, _ = shoplake(lake, "models", "list")
    table = [[cell.strip() for cell in line.split("│")] for line in stdout.splitlines()[2:]]
    assert [row[:2] for row in table] == [["v0001", ""], ["v0002", "*"]]
