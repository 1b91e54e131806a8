"""`shoplake assess` against real components: planted problems are flagged with their
evidence, and a clean installation is reported clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from shoplake.config import CONFIG_FILE_ENV, Settings, load_settings
from shoplake.ops.assess import Report, assess
from shoplake.ops.assess.render import to_html, to_json, to_text
from shoplake.platform import Platform
from shoplake.serve.keys import create_key
from shoplake.services import free_port
from tests.support.aws import moto_endpoint
from tests.support.streams import local_valkey


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No inherited SHOPLAKE_ settings and no shoplake.toml unless a test writes one."""
    for name in list(os.environ):
        if name.startswith("SHOPLAKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "absent.toml"))
    return tmp_path


def _ids(report: Report, severities: tuple[str, ...] = ("high", "medium")) -> dict[str, Any]:
    return {f.id: f for f in report.findings if f.severity in severities}


# Security ------------------------------------------------------------------------------------


@pytest.fixture
def bucket() -> Iterator[tuple[str, str]]:
    """A moto S3 server with a bucket created without default encryption."""
    import boto3

    with moto_endpoint() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="plain-lake"
        )
        yield endpoint, "plain-lake"


def test_an_unencrypted_bucket_is_flagged_until_kms_encrypts_it(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    import boto3

    endpoint, name = bucket
    settings = load_settings(
        data_dir=tmp_path, profile="aws", **{"aws.endpoint_url": endpoint, "aws.bucket": name}
    )
    finding = _ids(assess(settings, ["security"]))["bucket-unencrypted"]
    assert finding.severity == "high"
    assert "s3://plain-lake" in finding.title
    assert finding.evidence["bucket default"] == "none"
    assert finding.evidence["aws.encryption"] == "aws:kms"

    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]}
    )
    report = assess(settings, ["security"])
    assert not [f for f in report.findings if f.id.startswith("bucket-")]
    assert any("encrypts by default with aws:kms" in p.detail for p in report.passed)


def test_aes256_is_flagged_when_the_profile_requires_kms(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    import boto3

    endpoint, name = bucket
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]}
    )
    settings = load_settings(
        data_dir=tmp_path, profile="aws", **{"aws.endpoint_url": endpoint, "aws.bucket": name}
    )
    finding = _ids(assess(settings, ["security"]))["bucket-not-kms"]
    assert finding.evidence["bucket default"] == ["AES256"]


def test_an_api_bound_to_every_interface_is_flagged(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **{"serve.host": "0.0.0.0"})
    finding = _ids(assess(settings, ["security"]))["api-bound-all-interfaces"]
    assert finding.severity == "high"
    assert finding.evidence == {"serve.host": "0.0.0.0", "serve.port": 8000}


def test_an_api_key_in_the_config_file_is_flagged_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = create_key(load_settings(data_dir=tmp_path), "admin")
    config = tmp_path / "shoplake.toml"
    config.write_text(f'[doctor]\napi_key = "{key}"\n')
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    report = assess(load_settings(data_dir=tmp_path), ["security"])
    finding = _ids(report)["secret-in-config-file"]
    assert finding.severity == "high"
    assert finding.title == "plain-text shoplake API key in shoplake.toml at doctor.api_key"
    assert finding.evidence["file"] == str(config)
    assert finding.evidence["key"] == "doctor.api_key"
    assert finding.evidence["value"] == f"slk_***({len(key)} chars)"
    assert "SHOPLAKE_DOCTOR__API_KEY" in finding.fix
    for rendered in (to_text(report), to_json(report), to_html(report)):
        assert key not in rendered and key[4:12] not in rendered


def test_secrets_in_the_environment_and_urls_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPLAKE_SOURCE__URL", "postgresql://shop:hunter2secret@db/shop")
    monkeypatch.setenv("SHOPLAKE_SUPPLIER", json.dumps({"client_secret": "s3cr3t-value-long"}))
    report = assess(load_settings(data_dir=tmp_path), ["security"])
    found = {f.evidence["key"]: f for f in report.findings if f.id == "secret-in-environment"}
    assert found["source.url"].evidence["value"] == "postgresql://shop:***@db/shop"
    assert found["supplier.client_secret"].evidence["variable"] == "SHOPLAKE_SUPPLIER"
    assert "hunter2" not in to_json(report) and "s3cr3t" not in to_json(report)


def test_a_running_valkey_is_found_by_its_pid_file_listening_on_loopback(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **{"services.valkey_port": free_port()})
    with local_valkey(settings):
        report = assess(settings, ["security"])
    (running,) = [p for p in report.passed if p.check == "running servers"]
    port = settings.services.valkey_port
    assert running.detail.endswith(f"listens on 127.0.0.1:{port}: loopback only")
    assert "server-listening-beyond-loopback" not in _ids(report)


def test_key_hygiene(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    create_key(settings, "admin", "ops")
    create_key(settings, "admin", "backup")
    settings.api_keys_path.chmod(0o644)
    report = assess(settings, ["security"])
    mode = _ids(report)["keys-file-mode"]
    assert mode.evidence == {"file": str(settings.api_keys_path), "mode": "644"}
    admins = _ids(report, ("low",))["keys-many-admins"]
    assert len(admins.evidence["admin keys"]) == 2


# Lakehouse -----------------------------------------------------------------------------------


def test_500_small_files_are_flagged_by_table(tmp_path: Path) -> None:
    platform = Platform(data_dir=tmp_path)
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
    # One data file per batch: a 1-byte target makes PyIceberg write each batch on its own.
    table = platform.catalog.create_table(
        "bronze.x", schema=schema, properties={"write.target-file-size-bytes": "1"}
    )
    for commit in range(5):
        batches = [
            pa.record_batch({"id": [i], "name": [f"n{i}"]}, schema=schema)
            for i in range(commit * 100, commit * 100 + 100)
        ]
        table.append(pa.Table.from_batches(batches))
    report = assess(platform.settings, ["performance"], catalog=platform.catalog)
    finding = _ids(report)["small-files"]
    assert finding.title == "1 table with at least 100 small files: bronze.x (500 small files)"
    assert finding.evidence["bronze.x"].startswith("500 of 500 data files under 8.0 MiB")
    assert "shoplake maintain bronze.x" in finding.fix


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small generated, ingested and transformed lakehouse with one app key (mode 0600)."""
    data_dir = tmp_path_factory.mktemp("clean")
    platform = Platform(data_dir=data_dir)
    platform.generate(scale=0.01, seed=42)
    platform.ingest()
    assert platform.transform().ok
    create_key(platform.settings, "app")
    return platform.settings


def test_a_clean_installation_has_no_high_or_medium_finding(clean: Settings) -> None:
    report = assess(clean)
    assert report.pillars == ["security", "reliability", "performance", "scalability"]
    assert _ids(report) == {}
    assert not report.fails("high")
    text = to_text(report)
    assert "no findings at high/medium severity" in text
    assert "9 bronze tables carry usable state" in text
    assert "customerName" in text  # the PII columns per table, as evidence


def test_the_cli_reports_json_and_html_and_exits_by_severity(
    clean: Settings, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(clean.data_dir), "assess"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env[CONFIG_FILE_ENV] = str(tmp_path / "absent.toml")
    done = subprocess.run(
        [*command, "--output", "json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["counts"]["high"] == payload["counts"]["medium"] == 0
    assert {f["pillar"] for f in payload["findings"]} >= {"security", "scalability"}

    page = tmp_path / "report.html"
    exposed = {**env, "SHOPLAKE_SERVE__HOST": "0.0.0.0"}
    done = subprocess.run(
        [*command, "--output", "html", "--pillar", "security", "--report-file", str(page)],
        check=False,
        capture_output=True,
        text=True,
        env=exposed,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "api-bound-all-interfaces" in html and "reliability" not in html
