"""Settings: the one typed source of configuration, and the only reader of ``os.environ``.

Every field is documented in its ``metadata["doc"]``; ``tests/test_config.py`` fails when a
field lacks one, and ``tracklet server --help`` is built from the same fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tracklet.errors import InvalidInput

ENV_PREFIX = "TRACKLET_"


def _doc(text: str, env: bool = True) -> dict[str, Any]:
    return {"doc": text, "env": env}


@dataclass(frozen=True)
class Settings:
    """Configuration of a tracklet server process (and of the CLI commands that open its store)."""

    data_dir: Path = field(
        default=Path("~/.tracklet"),
        metadata=_doc("Folder holding the SQLite database and the local blob store by default."),
    )
    db: str = field(
        default="",
        metadata=_doc(
            "Metadata database URL (sqlite:///path or postgresql://...). "
            "Empty means SQLite at <data_dir>/tracklet.db."
        ),
    )
    blobs: str = field(
        default="",
        metadata=_doc(
            "Blob store URL (file:///path, s3://bucket/prefix or memory://). "
            "Empty means <data_dir>/blobs."
        ),
    )
    host: str = field(default="127.0.0.1", metadata=_doc("Interface the server listens on."))
    port: int = field(default=8080, metadata=_doc("TCP port the server listens on."))
    public_url: str = field(
        default="",
        metadata=_doc(
            "Base URL clients use to reach the server, for signed upload/download URLs. "
            "Empty means derived from each request's Host header."
        ),
    )
    admin_key: str = field(
        default="",
        metadata=_doc("API key given to the admin user created on first start (for automation)."),
    )
    secret_key: str = field(
        default="",
        metadata=_doc(
            "Server secret (32 or more characters) from which the URL-signing key and the "
            "pepper of stored key hashes are derived. Empty means <data_dir>/secret.key, "
            "created on first start (mode 0600). Every process serving one database needs "
            "the same secret: set this (or copy the file) when they run on several hosts."
        ),
    )
    session_ttl_s: int = field(
        default=14 * 24 * 3600,
        metadata=_doc("Lifetime in seconds of a browser sign-in session."),
    )
    forwarded_allow_ips: str = field(
        default="127.0.0.1",
        metadata=_doc(
            "Comma-separated addresses of proxies trusted to set X-Forwarded-Proto/-For "
            "(passed to uvicorn; '*' trusts any). Requests they mark https get Secure cookies "
            "and HSTS."
        ),
    )
    sign_in_attempts: int = field(
        default=10,
        metadata=_doc(
            "Failed sign-ins allowed per username and client address within "
            "sign_in_window_s; past it sign-in answers 429 with Retry-After."
        ),
    )
    sign_in_window_s: int = field(
        default=300,
        metadata=_doc("The window in seconds over which failed sign-ins are counted."),
    )
    graphql_max_concurrent_per_user: int = field(
        default=32,
        metadata=_doc(
            "GraphQL requests one user may have in flight in one server process; the next "
            "one answers 429 with Retry-After (the SDK retries it). A multi-node launch or a "
            "sweep's agents often share one key, hence room for a few dozen."
        ),
    )
    max_body_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata=_doc(
            "Largest GraphQL or file_stream request body accepted; larger ones get 413. "
            "The wandb SDK caps its own requests near 10 MiB."
        ),
    )
    graphql_max_document_bytes: int = field(
        default=100_000,
        metadata=_doc(
            "Largest GraphQL document (the query text) accepted; larger ones get 413 before "
            "parsing. The wandb SDK's largest is near 2.2 KB."
        ),
    )
    graphql_max_tokens: int = field(
        default=20_000,
        metadata=_doc("Most lexical tokens in one GraphQL document; more is a syntax error."),
    )
    graphql_max_depth: int = field(
        default=15,
        metadata=_doc(
            "Deepest chain of nested fields in one GraphQL operation, fragments expanded "
            "(the wandb SDK's deepest is 11)."
        ),
    )
    graphql_max_aliases: int = field(
        default=10,
        metadata=_doc(
            "Most aliased fields in one GraphQL operation (the wandb SDK sends at most 3)."
        ),
    )
    graphql_max_cost: int = field(
        default=200_000,
        metadata=_doc(
            "Complexity budget of one GraphQL operation: each field costs 1 plus its children, "
            "times the page size for connections and lists of objects (the literal first/"
            "limit, else the variable's default, else 50 for a connection and 10 for a "
            "plain list), plus graphql_history_weight per history field. The wandb SDK's "
            "costliest operation (api.runs() with historyKeys per run) is near 101,500."
        ),
    )
    graphql_history_weight: int = field(
        default=2000,
        metadata=_doc(
            "Cost of one field that reads a run's history (history, sampledHistory, "
            "historyKeys, events, ...) in the GraphQL complexity budget."
        ),
    )
    run_filter_timeout_s: float = field(
        default=10.0,
        metadata=_doc(
            "PostgreSQL statement timeout of a run listing query (api.runs(filters=...)); a "
            "slower one is cancelled and answered 400. 0 disables it. On SQLite the filters' "
            "$regex runs on RE2 (linear time) and needs no timeout."
        ),
    )
    query_timeout_s: float = field(
        default=10.0,
        metadata=_doc(
            "Time limit of one SQL console statement (POST /api/v1/query), building its "
            "views included; a slower one is stopped and answered 400."
        ),
    )
    query_max_rows: int = field(
        default=10_000,
        metadata=_doc("Most rows a SQL console answer holds; a longer one is cut and says so."),
    )
    query_memory_mb: int = field(
        default=1024,
        metadata=_doc("Memory limit (MiB) of the DuckDB database of one SQL console statement."),
    )
    query_threads: int = field(
        default=2,
        metadata=_doc("DuckDB threads one SQL console statement may use."),
    )
    query_concurrency: int = field(
        default=2,
        metadata=_doc(
            "SQL console statements one server process runs at once; more wait a second, "
            "then are answered 503 with Retry-After."
        ),
    )
    ingest_max_depth: int = field(
        default=64,
        metadata=_doc(
            "Most containers (objects, arrays) nested in one history, events or summary line "
            "of file_stream, the line's own object included; deeper lines get 400 (reading "
            "a Parquet export of a history broke near 300 levels)."
        ),
    )
    ingest_max_keys: int = field(
        default=10_000,
        metadata=_doc(
            "Most object keys (nested ones included) in one history, events or summary line "
            "of file_stream; more get 400."
        ),
    )
    ingest_max_line_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata=_doc("Largest single file_stream line in bytes; a larger one gets 413."),
    )
    max_concurrent_requests: int = field(
        default=64,
        metadata=_doc(
            "API requests handled at once, file_stream aside; more are answered 429 with "
            "Retry-After (the SDK retries them). 0 disables the limit."
        ),
    )
    max_concurrent_streams: int = field(
        default=2048,
        metadata=_doc(
            "Requests to file_stream handled at once (the SDK sends one at a time per live run, "
            "so this is how many runs may stream together without retrying); more get 429. "
            "0 disables the limit."
        ),
    )
    heartbeat_timeout_s: float = field(
        default=300.0,
        metadata=_doc(
            "Seconds without any file_stream request (the SDK heartbeats every 30 s) "
            "after which a running run is marked crashed."
        ),
    )
    crash_check_interval_s: float = field(
        default=15.0, metadata=_doc("Seconds between sweeps that mark silent runs crashed.")
    )
    signed_url_ttl_s: int = field(
        default=3600,
        metadata=_doc(
            "Lifetime in seconds of signed download URLs (the SDK asks for a fresh one when "
            "a download is refused); over S3, of the presigned bucket URLs."
        ),
    )
    signed_upload_ttl_s: int = field(
        default=24 * 3600,
        metadata=_doc(
            "Lifetime in seconds of signed upload URLs. Longer than downloads because the "
            "SDK takes them when it queues files (every part of a multipart upload at once) "
            "and never refreshes them; each one is single-use and accepts one object only."
        ),
    )
    db_busy_timeout_s: float = field(
        default=10.0,
        metadata=_doc(
            "How long a write waits for the database lock before the request is answered "
            "503 with Retry-After."
        ),
    )
    s3_endpoint_url: str = field(
        default="",
        metadata=_doc("Endpoint of an S3-compatible object store (empty: AWS default)."),
    )
    s3_region: str = field(default="us-east-1", metadata=_doc("Region used to sign S3 requests."))
    history_compaction_interval_s: float = field(
        default=1.0,
        metadata=_doc(
            "Seconds between checks for ended runs whose live history rows should be "
            "compacted into a Parquet export in the blob store; 0 turns compaction off."
        ),
    )
    alert_webhook_url: str = field(
        default="",
        metadata=_doc(
            "Webhook that receives every run alert (run.alert) as Slack-compatible JSON "
            "(POST {\"text\": ...}), retried with backoff; empty: alerts are stored only."
        ),
    )
    alert_delivery_interval_s: float = field(
        default=5.0,
        metadata=_doc(
            "Seconds between checks for alert deliveries to send; a failed one is retried "
            "after this times 2**attempts (at most 5 attempts)."
        ),
    )
    alert_email_to: str = field(
        default="",
        metadata=_doc("Comma-separated addresses that receive every run alert by e-mail "
                      "(through TRACKLET_SMTP_HOST); empty: no e-mail."),
    )
    smtp_host: str = field(default="", metadata=_doc("SMTP server for alert e-mails."))
    smtp_port: int = field(default=587, metadata=_doc("SMTP server port."))
    smtp_starttls: bool = field(
        default=True, metadata=_doc("Upgrade the SMTP connection with STARTTLS."))
    smtp_username: str = field(
        default="", metadata=_doc("SMTP login (empty: send without logging in)."))
    smtp_password: str = field(default="", repr=False,
                               metadata=_doc("Password of the SMTP login."))
    smtp_from: str = field(
        default="tracklet@localhost", metadata=_doc("Sender address of alert e-mails."))
    blob_gc_interval_s: float = field(
        default=6 * 3600.0,
        metadata=_doc(
            "Seconds between blob garbage collections by the server (blobs no run file, "
            "artifact version or history export references, older than blob_gc_grace_s; "
            "see `tracklet gc`); 0 turns them off."
        ),
    )
    blob_gc_grace_s: float = field(
        default=24 * 3600.0,
        metadata=_doc(
            "Unreferenced blobs younger than this many seconds are kept by garbage "
            "collection: an upload in flight writes its blob before the row naming it."
        ),
    )
    log_level: str = field(default="info", metadata=_doc("Server log level."))
    log_format: str = field(
        default="text",
        metadata=_doc("Server log lines: `text`, or `json` (one object per line: time, "
                      "level, logger, message, exception)."),
    )
    storage_regions: str = field(
        default="default",
        metadata=_doc(
            "Comma-separated region names an artifact may ask for "
            "(wandb.Artifact(storage_region=...)); every region is kept in the one blob store. "
            "Other names are refused."
        ),
    )

    @property
    def resolved_data_dir(self) -> Path:
        """The data folder with ``~`` expanded."""
        return self.data_dir.expanduser()

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL of the metadata database."""
        if self.db:
            if self.db.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.db[len("postgresql://") :]
            return self.db
        return f"sqlite:///{self.resolved_data_dir / 'tracklet.db'}"

    @property
    def blobs_url(self) -> str:
        """The URL of the blob store."""
        return self.blobs or f"file://{self.resolved_data_dir / 'blobs'}"

    @property
    def storage_region_names(self) -> tuple[str, ...]:
        """The accepted artifact storage regions, ``default`` always among them."""
        names = [n.strip() for n in self.storage_regions.split(",") if n.strip()]
        return tuple(dict.fromkeys(["default", *names]))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``TRACKLET_<FIELD>`` variables, then apply explicit overrides.

        Overrides whose value is ``None`` are ignored, so CLI options that were not given fall
        through to the environment and the defaults.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and f.metadata.get("env", True):
                values[f.name] = _coerce(f.type, raw, ENV_PREFIX + f.name.upper())
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        return replace(settings, data_dir=Path(settings.data_dir))

    @classmethod
    def documented_fields(cls) -> list[tuple[str, str]]:
        """(name, doc) for every field, for help texts and the docs test."""
        return [(f.name, str(f.metadata.get("doc", ""))) for f in fields(cls)]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _coerce(type_name: Any, raw: str, var: str = "") -> Any:
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    try:
        if name == "int":
            return int(raw)
        if name == "float":
            return float(raw)
        if name == "bool":
            if raw.strip().lower() not in _TRUE | _FALSE:
                raise ValueError(raw)
            return raw.strip().lower() in _TRUE
    except ValueError:
        raise InvalidInput(f"{var or 'setting'}: expected {name}, got {raw!r}") from None
    if name == "Path":
        return Path(raw)
    return raw


@dataclass(frozen=True)
class ClientSettings:
    """Configuration of the light client (``tracklet.init``, ``tracklet login``, ``tracklet
    sync``), read from the environment of the training process. Values stored by ``tracklet
    login`` in ``config_dir`` fill whatever the environment leaves empty."""

    api_key: str = field(default="", metadata=_doc(
        "API key (TRACKLET_API_KEY, else WANDB_API_KEY)."))
    base_url: str = field(default="", metadata=_doc(
        "Server URL such as http://host:8080 (TRACKLET_BASE_URL, else WANDB_BASE_URL)."))
    config_dir: Path | None = field(default=None, metadata=_doc(
        "Folder of the stored login (TRACKLET_CONFIG_DIR; default the user's config dir)."))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """The client settings in ``environ`` (default ``os.environ``); the ``TRACKLET_``
        variables win over the ``WANDB_`` ones, so people coming from W&B need no change."""
        env = os.environ if environ is None else environ
        config_dir = env.get("TRACKLET_CONFIG_DIR")
        return cls(
            api_key=env.get("TRACKLET_API_KEY") or env.get("WANDB_API_KEY") or "",
            base_url=(env.get("TRACKLET_BASE_URL") or env.get("WANDB_BASE_URL") or "").rstrip("/"),
            config_dir=Path(config_dir) if config_dir else None,
        )
