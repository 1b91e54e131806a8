"""Which endpoints the settings configure, each as the probe that diagnoses it.

Endpoint names are what ``shoplake doctor [ENDPOINT…]`` accepts: :data:`ENDPOINTS`, in the
order they are checked and reported. The servers shoplake runs on demand — its API, the local
supplier API, the embedded valkey — carry the command that starts them (``Probe.on_demand``),
so that one not running is reported as such; an endpoint named explicitly must be up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from shoplake.errors import ShoplakeError
from shoplake.ops.doctor import Limits, Probe, misconfigured
from shoplake.redact import redact
from shoplake.sourcedb import CREATE_SOURCE

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ops.probes.sql import Access

Builder = Callable[["Settings", Limits], Probe]
MISSING_SOURCE = f"create it with {CREATE_SOURCE}, or set source.url"


def sql_probe(
    name: str,
    url: str,
    config_key: str,
    access: Access,
    limits: Limits,
    *,
    missing_fix: str | None = None,
) -> Probe:
    """The probe of a SQLAlchemy URL: a SQLite file, PostgreSQL, or another server."""
    from shoplake.ops.probes.files import SqliteProbe
    from shoplake.ops.probes.network import Address
    from shoplake.ops.probes.postgres import PostgresProbe
    from shoplake.ops.probes.sql import SqlContext, SqlServerProbe

    try:
        context = SqlContext(url, config_key)
    except ShoplakeError as exc:
        return misconfigured(name, url, str(exc), f"fix {config_key}")
    if context.backend == "sqlite":
        return SqliteProbe(name, context, access, limits, missing_fix=missing_fix)
    if context.backend == "postgresql":
        return PostgresProbe(name, context, access, limits)
    host, port = context.parsed.host or "localhost", context.parsed.port or 3306
    address = Address(host, port, config_key, f"start the database server or fix {config_key}")
    skipped = f"not checked for {context.backend}"
    return SqlServerProbe(name, context, address, access, limits, tls_skipped=skipped)


def source(settings: Settings, limits: Limits) -> Probe:
    """The source database: every table shoplake ingests is readable."""
    from shoplake.ops.probes.sql import read_tables

    config_key = "source.url"
    return sql_probe(
        "source", settings.source_url, config_key, read_tables, limits, missing_fix=MISSING_SOURCE
    )


def catalog(settings: Settings, limits: Limits) -> Probe:
    """The Iceberg SQL catalog: readable, and a write is allowed (and reverted)."""
    from shoplake.ops.probes.sql import catalog_access

    return sql_probe("catalog", settings.catalog_uri, "lake.catalog_uri", catalog_access, limits)


def warehouse(settings: Settings, limits: Limits) -> Probe:
    """The warehouse: a local directory or an S3 prefix, written and cleaned (a local one's
    tables also read: metadata, manifests, data-file footers)."""
    from shoplake.ops.probes.files import WarehouseProbe

    location = settings.warehouse
    scheme = urlsplit(location).scheme
    if scheme == "file":
        return WarehouseProbe(Path(unquote(urlsplit(location).path)), settings)
    if scheme in ("s3", "s3a"):
        try:
            import boto3  # noqa: F401
        except ImportError:
            return misconfigured(
                "warehouse", location, "boto3 is not installed", "pip install 'shoplake[aws]'"
            )
        from shoplake.ops.probes.aws import S3Probe

        return S3Probe(location, limits)
    return misconfigured(
        "warehouse",
        location,
        f"the doctor cannot probe {scheme or 'a bare path'} warehouses",
        "use file://… or s3://bucket/prefix in lake.warehouse",
    )


def _valkey_url(settings: Settings) -> tuple[str, str]:
    from shoplake.services import valkey_url

    if settings.stream.url:
        url = settings.stream.url
        return url, f"start the valkey server at {redact(url)} or fix stream.url"
    return valkey_url(settings), "run `shoplake up` or fix stream.url"


def shoplake_command(settings: Settings, command: str) -> str:
    """``shoplake … <command>`` as typed here to reach these settings (data dir, config file)."""
    import os
    import shlex

    from shoplake.config import CONFIG_FILE_ENV

    words = ["shoplake"]
    if config := os.environ.get(CONFIG_FILE_ENV):
        words += ["--config", config]
    data_dir = settings.data_dir
    if data_dir != Path(".shoplake").absolute():
        shown = (
            data_dir.relative_to(Path.cwd()) if data_dir.is_relative_to(Path.cwd()) else data_dir
        )
        words += ["--data-dir", str(shown)]
    return " ".join(shlex.quote(word) for word in words) + f" {command}"


def _embedded_valkey(settings: Settings, probe: Probe) -> Probe:
    """The probe, marked as started by `shoplake up` when the log is the local valkey."""
    if not settings.stream.url:
        probe.on_demand = shoplake_command(settings, "up")
    return probe


def event_log(settings: Settings, limits: Limits) -> Probe:
    """The event log: valkey streams, or a Kinesis stream."""
    if settings.stream.backend == "kinesis":
        from shoplake.ops.probes.aws import KinesisProbe

        stream = settings.stream
        return KinesisProbe(stream.kinesis_stream, stream.kinesis_endpoint, stream.region, limits)
    from shoplake.ops.probes.valkey import ValkeyProbe, event_log_steps

    url, start_fix = _valkey_url(settings)
    steps = event_log_steps(settings.stream.prefix)
    probe = ValkeyProbe("event-log", url, start_fix=start_fix, steps=steps, limits=limits)
    return _embedded_valkey(settings, probe)


def online_store(settings: Settings, limits: Limits) -> Probe:
    """The online store: session and recommendation keys in valkey."""
    from shoplake.ops.probes.valkey import ValkeyProbe, online_store_steps

    url, start_fix = _valkey_url(settings)
    steps = online_store_steps()
    probe = ValkeyProbe("online-store", url, start_fix=start_fix, steps=steps, limits=limits)
    return _embedded_valkey(settings, probe)


def vectors(settings: Settings, limits: Limits) -> Probe:
    """The vector store: faiss files under the data dir, or PostgreSQL with pgvector."""
    if settings.vectors.backend == "faiss":
        from shoplake.ops.probes.files import DirectoryProbe

        return DirectoryProbe("vectors", settings.vectors_dir, "data_dir")
    from shoplake.ops.probes.postgres import pgvector_access
    from shoplake.vectors.pgvector import pgvector_url

    try:
        url, config_key = pgvector_url(settings)
    except ShoplakeError as exc:
        return misconfigured("vectors", settings.vectors.url or "", str(exc), "set vectors.url")
    return sql_probe("vectors", url, config_key, pgvector_access, limits)


def supplier_api(settings: Settings, limits: Limits) -> Probe:
    """The supplier's REST API: token, scopes, latency."""
    from shoplake.ops.probes.supplier import SupplierProbe

    probe = SupplierProbe(settings.supplier, limits)
    if probe.local:
        probe.on_demand = shoplake_command(settings, "sources api")
    return probe


def api(settings: Settings, limits: Limits) -> Probe:
    """The shoplake API of `shoplake serve`: up, shoplake, key accepted."""
    from shoplake.ops.probes.api import ApiProbe

    probe = ApiProbe(settings, limits)
    probe.on_demand = shoplake_command(settings, "serve")
    return probe


ENDPOINTS: dict[str, Builder] = {
    "source": source,
    "catalog": catalog,
    "warehouse": warehouse,
    "event-log": event_log,
    "online-store": online_store,
    "vectors": vectors,
    "supplier-api": supplier_api,
    "api": api,
}


def build_probes(settings: Settings, names: Sequence[str] = ()) -> list[Probe]:
    """The probes of the named endpoints (all when none is named), in :data:`ENDPOINTS` order;
    a named endpoint must be running, even one shoplake starts on demand."""
    unknown = [n for n in names if n not in ENDPOINTS]
    if unknown:
        raise ShoplakeError(
            f"unknown endpoint {', '.join(unknown)}: choose from {', '.join(ENDPOINTS)}"
        )
    limits = Limits.from_settings(settings)
    probes = []
    for name, build in ENDPOINTS.items():
        if names and name not in names:
            continue
        probe = build(settings, limits)
        probe.name = name
        if name in names:
            probe.on_demand = None
        probes.append(probe)
    return probes
