"""The recommendation hot path does no file, registry, catalog or model work once warm, and the
process's warmed heap is kept out of the garbage collector's full passes.

Both guard the tail latency of ``GET /recommendations`` without timing anything: a registry read
on the event loop every few seconds, and full collections scanning every imported library (made
heavier when loading the model pulled in pandas), each stalled the loop for every request queued
behind it.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import shoplake.serve.state as serve_state
from shoplake.ml.registry import Registry
from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.serve.state import WATCHER_THREAD
from tests.serve.conftest import auth, rows

#: Audit events that mean file, catalog, import, network or process work.
WORK_EVENTS = frozenset(
    {
        "open",
        "import",
        "os.listdir",
        "os.scandir",
        "sqlite3.connect",
        "socket.connect",
        "subprocess.Popen",
    }
)
UNKNOWN = 999_999


@contextmanager
def work_done() -> Iterator[Counter[str]]:
    """Count the work events raised meanwhile by any thread but the model watcher.

    Audit hooks cannot be removed; this one stops counting when the block ends.
    """
    seen: Counter[str] = Counter()
    counting = True

    def hook(event: str, args: tuple[Any, ...]) -> None:
        watcher = threading.current_thread().name == WATCHER_THREAD
        if counting and event in WORK_EVENTS and not watcher:
            seen[f"{event} {str(args[0])[:80]}"] += 1

    sys.addaudithook(hook)
    try:
        yield seen
    finally:
        counting = False


def customers(shop: Platform) -> list[int]:
    found = rows(shop, "SELECT DISTINCT customer_number FROM gold.recommendations ORDER BY 1")
    return [*(int(r["customer_number"]) for r in found[:40]), UNKNOWN]


def warm_requests_do_no_work(
    shop: Platform, api_keys: dict[str, str]
) -> tuple[dict[str, int], str | None]:
    """Assert that 5 rounds of requests for 40 customers and an unknown one, after a warm-up
    round, do no work; the sources the answers came from, and the online store used."""
    paths = [f"/recommendations/{n}" for n in customers(shop)]
    headers = auth(api_keys, "app")
    sources: Counter[str] = Counter()
    app = create_app(shop.settings)
    with TestClient(app) as client:
        for path in paths:  # warm-up: every code path once
            assert client.get(path, headers=headers).status_code == 200
        with work_done() as seen:
            for _ in range(5):
                for path in paths:
                    response = client.get(path, headers=headers)
                    assert response.status_code == 200
                    sources[json.loads(response.text)["source"]] += 1
        store = app.state.serve.store_url()
    assert dict(seen) == {}
    return dict(sources), store


def test_warm_requests_read_no_file_and_load_nothing(
    api_keys: dict[str, str], lakehouse: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promotions are followed as often as they can be: none of that may land on a request.
    monkeypatch.setattr(serve_state, "RECHECK_SECONDS", 0.005)
    sources = {"precomputed": 200, "cold_start": 5}
    assert warm_requests_do_no_work(lakehouse, api_keys) == (sources, None)


@pytest.mark.integration
def test_lists_from_the_online_store_read_no_file_either(
    api_keys: dict[str, str],
    lakehouse: Platform,
    online_store: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve_state, "RECHECK_SECONDS", 0.005)
    assert lakehouse.promote(lakehouse.model().version)["online store lists"] > 0
    sources = {"precomputed": 200, "cold_start": 5}
    assert warm_requests_do_no_work(lakehouse, api_keys) == (sources, online_store)


def test_the_warmed_heap_is_frozen_while_serving_and_released_after(
    lakehouse: Platform,
) -> None:
    before = gc.get_freeze_count()  # 0 unless another app of this process still serves
    with TestClient(create_app(lakehouse.settings)):
        assert gc.get_freeze_count() > before + 1_000
    if before == 0:
        assert gc.get_freeze_count() == 0


def test_loading_a_model_imports_no_dataframe_library(lakehouse: Platform) -> None:
    code = (
        "import sys\n"
        "from shoplake.ml.serving import load_promoted\n"
        "from shoplake.platform import Platform\n"
        f"model = load_promoted(Platform(data_dir={str(lakehouse.settings.data_dir)!r}).settings)\n"
        "print(model.catalogue.num_rows)\n"
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow.dataset') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    products, imported = done.stdout.splitlines()
    assert int(products) == len(rows(lakehouse, "SELECT product_code FROM silver.products"))
    assert imported == "[]"


def test_a_new_promotion_is_served_without_a_restart(
    lakehouse: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_state, "RECHECK_SECONDS", 0.02)
    shop = Platform(data_dir=tmp_path / "shop")
    source = Registry(lakehouse.settings.models_dir)
    first = source.require_promoted()
    registry = Registry(shop.settings.models_dir)
    shop.settings.models_dir.mkdir(parents=True)
    for version in (first, "v0099"):
        shutil.copytree(source.path(first), registry.root / version)
    registry.promote(first)
    key = create_key(shop.settings, "app")[1]
    with TestClient(create_app(shop.settings)) as app:

        def served() -> str:
            response = app.get(f"/recommendations/{UNKNOWN}", headers={"X-API-Key": key})
            assert response.status_code == 200, response.text
            return str(json.loads(response.text)["model_version"])

        assert served() == first
        registry.promote("v0099")
        deadline = time.monotonic() + 30
        while served() != "v0099" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert served() == "v0099"
