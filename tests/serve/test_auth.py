"""API keys: stored hashed with mode 0600, checked per role, revocable, rate limited per key."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key, list_keys, revoke_key
from shoplake.serve.keys import ApiKeyError
from tests.serve.conftest import auth, with_serve

CUSTOMER = "/recommendations/103"
#: One route per role group, with the roles it admits.
ROUTES = (
    ("GET", CUSTOMER, None, {"app", "admin"}),
    ("POST", "/query", {"sql": "SELECT 1 AS one"}, {"analyst", "admin"}),
    ("GET", "/tables", None, {"analyst", "admin"}),
)


def call(
    client: TestClient, method: str, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_no_key_is_401_with_a_challenge(
    client: TestClient, method: str, path: str, body: object, roles: set[str]
) -> None:
    response = call(client, method, path, body, {})
    assert response.status_code == 401
    assert response.json() == {
        "detail": "missing API key: send it as X-API-Key or Authorization: Bearer"
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get(CUSTOMER, headers={"X-API-Key": "slk_" + "x" * 43})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_each_role_gets_exactly_its_routes(
    client: TestClient,
    api_keys: dict[str, str],
    method: str,
    path: str,
    body: object,
    roles: set[str],
) -> None:
    for role in api_keys:
        response = call(client, method, path, body, auth(api_keys, role))
        if role in roles:
            assert response.status_code == 200, (role, response.text)
        else:
            assert response.status_code == 403
            allowed = ", ".join(r for r in ("admin", "analyst", "app") if r in roles)
            assert response.json()["detail"] == (
                f"role {role!r} may not call this endpoint; allowed roles: {allowed}"
            )


def test_bearer_token_is_accepted(client: TestClient, api_keys: dict[str, str]) -> None:
    response = client.get(CUSTOMER, headers={"Authorization": f"Bearer {api_keys['app']}"})
    assert response.status_code == 200
    assert client.get(CUSTOMER, headers={"Authorization": "Basic abc"}).status_code == 401


def test_keys_are_stored_hashed_in_an_owner_only_file(
    lakehouse: Platform, api_keys: dict[str, str]
) -> None:
    path = lakehouse.settings.api_keys_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    stored = json.loads(text)["keys"]
    for plaintext in api_keys.values():
        assert plaintext not in text
        digest = hashlib.sha256(plaintext.encode()).hexdigest()
        assert sum(entry["sha256"] == digest for entry in stored) == 1
    listed = {k.key_id: k for k in list_keys(lakehouse.settings)}
    assert {k.role for k in listed.values()} >= {"admin", "analyst", "app"}
    assert all("sha256" not in k.public() for k in listed.values())


def test_a_revoked_key_is_refused_by_the_running_server(
    client: TestClient, lakehouse: Platform
) -> None:
    key_id, plaintext = create_key(lakehouse.settings, "app", "to revoke")
    assert client.get(CUSTOMER, headers={"X-API-Key": plaintext}).status_code == 200
    revoked = revoke_key(lakehouse.settings, key_id)
    assert revoked.revoked
    response = client.get(CUSTOMER, headers={"X-API-Key": plaintext})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"
    with pytest.raises(ApiKeyError, match="no API key with id 'nope'"):
        revoke_key(lakehouse.settings, "nope")
    with pytest.raises(ApiKeyError, match="unknown role 'root'"):
        create_key(lakehouse.settings, "root")


def test_rate_limit_is_per_key_with_retry_after(
    lakehouse: Platform, api_keys: dict[str, str]
) -> None:
    settings = with_serve(lakehouse.settings, rate_limit_per_second=0.5, rate_limit_burst=3)
    with TestClient(create_app(settings)) as limited:
        app_key = auth(api_keys, "app")
        statuses = [limited.get(CUSTOMER, headers=app_key).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = limited.get(CUSTOMER, headers=app_key)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "2"  # one token every 2 s
        assert "rate limit of 0.5 requests/s" in refused.json()["detail"]
        # Another key has its own bucket.
        assert limited.get(CUSTOMER, headers=auth(api_keys, "admin")).status_code == 200
        metrics = limited.get("/metrics").text
        assert "shoplake_rate_limited_total 2" in metrics
        assert (
            'shoplake_http_requests_total{method="GET",'
            'route="/recommendations/{customer_number}",status="429"} 2'
        ) in metrics


def test_keys_cli_prints_a_key_once_and_lists_without_it(lakehouse: Platform) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    data_dir = str(lakehouse.settings.data_dir)

    def shoplake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shoplake.cli", "--data-dir", data_dir, *args],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip

    created = shoplake("keys", "create", "--role", "analyst", "--name", "cli")
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip()
    assert plaintext.startswith("slk_") and len(plaintext) == 4 + 43
    assert "will not be shown again" in created.stderr
    listed = shoplake("keys", "list", "--output", "json")
    entries = json.loads(listed.stdout)
    mine = [e for e in entries if e["name"] == "cli"]
    assert len(mine) == 1 and mine[0]["role"] == "analyst" and not mine[0]["revoked"]
    assert plaintext not in listed.stdout
    revoked = shoplake("keys", "revoke", mine[0]["key_id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    bad = shoplake("keys", "create", "--role", "root")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: unknown role 'root': choose one of admin, analyst, app"
