"""The metadata schema (SQLAlchemy Core). Alembic migrations under ``migrations/`` create it.

JSON documents (config, summary, tags, history lines) are stored as the text the client sent,
because the SDK writes extended JSON (NaN, Infinity, 64-bit ints) that a JSON column type
would reject or round through float64.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

server_settings = Table(
    "server_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("is_team", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    # Migration 0012: the organization of a team entity (null: none).
    Column("org_id", Integer, ForeignKey("organizations.id", name="fk_entities_org"),
           nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(128), nullable=False, unique=True),
    Column("email", String(256), nullable=True),
    Column("admin", Boolean, nullable=False, default=False),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    # Migration 0010: an argon2 hash (``storage.credentials``); null without a password.
    Column("password_hash", Text, nullable=True),
    # Migration 0012: a team's non-human user (keys only, no password).
    Column("service_account", Boolean, nullable=False, server_default=false()),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    # Migration 0007: a non-secret name; 0010: required, unique per user (``key-<id>``
    # for keys registered unnamed).
    Column("name", String(64), nullable=False),
    # Migration 0010: ``hmac`` (``domain.keys.hash_api_key``) or ``sha256`` (a row written
    # before 0010, re-keyed by ``Storage.open``).
    Column("hash_scheme", String(16), nullable=False, server_default="sha256"),
    UniqueConstraint("user_id", "name", name="uq_api_keys_user_name"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    # The keyed hash of the cookie's token (``domain.keys.hash_token``), never the token.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

#: Failed sign-ins, kept for the limiter's window only, shared by every server process.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(256), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_sign_in_failures_key", "username", "address", "at"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Migration 0012: PRIVATE, TEAM or ORGANIZATION (``domain.policy.Visibility``); null
    # is TEAM.
    Column("access", String(16), nullable=True),
    UniqueConstraint("entity_id", "name", name="uq_projects_entity_name"),
)

# Migration 0012: organizations, team membership and the audit log.
organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

org_members = Table(
    "org_members",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_org_members_user", "user_id"),
)

team_members = Table(
    "team_members",
    metadata,
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_team_members_user", "user_id"),
)

#: Roles held on one project (a registry's members) by a user or by a whole team.
project_user_members = Table(
    "project_user_members",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_project_user_members_user", "user_id"),
)

project_team_members = Table(
    "project_team_members",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"),
           primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_project_team_members_entity", "entity_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("actor", String(128), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("detail", Text, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("display_name", String(256), nullable=True),
    Column("state", String(16), nullable=False),
    Column("config", Text, nullable=False, default="{}"),
    Column("summary", Text, nullable=False, default="{}"),
    # Strict-JSON copies for SQL filtering, only where the text above is not strict JSON
    # (NaN, Infinity, garbage); NULL means "query the column above" (see strict_json.py).
    Column("config_strict", Text, nullable=True),
    Column("summary_strict", Text, nullable=True),
    Column("system_metrics", Text, nullable=False, default="{}"),
    Column("metadata", Text, nullable=True),
    Column("tags", Text, nullable=False, default="[]"),
    Column("notes", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("group_name", String(256), nullable=True),
    Column("job_type", String(256), nullable=True),
    Column("sweep_name", String(128), nullable=True),
    Column("host", String(256), nullable=True),
    Column("program", Text, nullable=True),
    Column("repo", Text, nullable=True),
    Column("commit_hash", String(64), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("history_line_count", BigInteger, nullable=False, default=0),
    Column("events_line_count", BigInteger, nullable=False, default=0),
    Column("log_line_count", BigInteger, nullable=False, default=0),
    Column("last_step", BigInteger, nullable=True),
    Column("stop_requested", Boolean, nullable=False, default=False, server_default=false()),
    # Bumped by every update (storage.metadata.runs): cached run listings compare it.
    Column("revision", BigInteger, nullable=False, default=0, server_default=text("0")),
    UniqueConstraint("project_id", "name", name="uq_runs_project_name"),
)
Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at)
Index("ix_runs_state_heartbeat", runs.c.state, runs.c.heartbeat_at)
Index("ix_runs_project_revision", runs.c.project_id, runs.c.revision, runs.c.created_at,
      runs.c.id)

history_chunks = Table(
    "history_chunks",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("first_line", BigInteger, primary_key=True, autoincrement=False),
    Column("last_line", BigInteger, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("stepped", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=True),
    Column("max_step", BigInteger, nullable=True),
    Column("layout", LargeBinary, nullable=False),
    Column("data", Text, nullable=False),
)
Index("ix_history_chunks_run_steps", history_chunks.c.run_id, history_chunks.c.max_step,
      history_chunks.c.min_step)

events = Table(
    "events",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("line", BigInteger, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
)

console = Table(
    "console",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("line", BigInteger, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
)

# Migration 0012: shared-mode runs (several processes writing one run). Each writer's
# file_stream counts lines from 0; this maps its offsets into the run's own line space.
stream_writers = Table(
    "stream_writers",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("writer", String(128), primary_key=True),
    Column("file", String(32), primary_key=True),
    #: The writer's next line offset: lines below it are stored already (a retry).
    Column("next_offset", BigInteger, nullable=False),
    #: JSON {writer offset: run line} of the writer's latest lines, for console rewrites.
    Column("recent", Text, nullable=False),
)

run_files = Table(
    "run_files",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(1024), primary_key=True),
    Column("blob_key", String(256), nullable=True),
    Column("md5", String(32), nullable=True),
    Column("size", BigInteger, nullable=False, default=0),
    Column("mimetype", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("uploaded", Boolean, nullable=False, default=False),
)
# Migration 0010: who may reference a digest is decided by the files that hold it.
Index("ix_run_files_md5", run_files.c.md5)

# Migration 0008: tombstones of deleted runs. SQLite gives a new row the largest id plus one,
# so without them the next run could take a deleted run's id (and its stale GraphQL id).
deleted_runs = Table(
    "deleted_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    Column("deleted_at", Float, nullable=False),
)

# -- artifacts (migration 0002) ---------------------------------------------------------------

artifact_types = Table(
    "artifact_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_artifact_types_project_name"),
)

artifact_collections = Table(
    "artifact_collections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("type_id", Integer, ForeignKey("artifact_types.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", Text, nullable=True),
    # Empty since migration 0010 (globally unique: an id would reach across entities).
    Column("client_id", String(128), nullable=True, unique=True),
    Column("next_version", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_artifact_collections_project_name"),
    # Migration 0010: a client's sequence id, unique within its project.
    Column("scoped_client_id", String(128), nullable=True),
    # Migration 0012: the collection's tags (JSON list of names), as W&B tags collections.
    Column("tags", Text, nullable=False, server_default="[]"),
)
Index("uq_artifact_collections_scoped_client", artifact_collections.c.project_id,
      artifact_collections.c.scoped_client_id, unique=True)
Index("ix_artifact_collections_scoped_client_id", artifact_collections.c.scoped_client_id)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sequence_id", Integer, ForeignKey("artifact_collections.id", ondelete="CASCADE"),
           nullable=False),
    Column("type_id", Integer, ForeignKey("artifact_types.id"), nullable=False),
    Column("version_index", Integer, nullable=True),
    Column("digest", String(128), nullable=False),
    Column("digest_algorithm", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("metadata", Text, nullable=True),
    Column("tags", Text, nullable=False, default="[]"),
    Column("pending_aliases", Text, nullable=False, default="[]"),
    Column("size", BigInteger, nullable=False, default=0),
    Column("file_count", Integer, nullable=False, default=0),
    Column("history_step", BigInteger, nullable=True),
    Column("ttl_seconds", BigInteger, nullable=True),
    Column("ttl_inherited", Boolean, nullable=False, default=True),
    Column("created_by_run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL"),
           nullable=True),
    # Empty since migration 0010 (globally unique: an id would reach across entities).
    Column("client_id", String(128), nullable=True, unique=True),
    Column("manifest_blob_key", String(256), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("committed_at", Float, nullable=True),
    # Migration 0005: how the uploaded manifest combines with earlier ones (FULL, INCREMENTAL
    # onto base_artifact_id, PATCH onto the patches other runs sent for the same distributed_id).
    Column("manifest_type", String(16), nullable=True),
    Column("base_artifact_id", Integer, nullable=True),
    Column("distributed_id", String(128), nullable=True),
    # Migration 0010: the client's id, unique within the sequence; looked up within the
    # caller's entity (ingest.artifacts.find_by_client_id).
    Column("scoped_client_id", String(128), nullable=True),
)
Index("uq_artifacts_scoped_client", artifacts.c.sequence_id, artifacts.c.scoped_client_id,
      unique=True)
Index("ix_artifacts_scoped_client_id", artifacts.c.scoped_client_id)
Index("ix_artifacts_sequence_digest", artifacts.c.sequence_id, artifacts.c.digest)
Index("ix_artifacts_created_by", artifacts.c.created_by_run_id)
Index("ix_artifacts_sequence_distributed", artifacts.c.sequence_id, artifacts.c.distributed_id)

artifact_memberships = Table(
    "artifact_memberships",
    metadata,
    Column("collection_id", Integer, ForeignKey("artifact_collections.id", ondelete="CASCADE"),
           primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version_index", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("collection_id", "version_index", name="uq_artifact_memberships_version"),
)
Index("ix_artifact_memberships_artifact", artifact_memberships.c.artifact_id)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("artifact_collections.id", ondelete="CASCADE"),
           nullable=False),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           nullable=False),
    Column("alias", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("collection_id", "alias", name="uq_artifact_aliases_collection_alias"),
)
Index("ix_artifact_aliases_artifact", artifact_aliases.c.artifact_id)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(128), nullable=False),
    Column("size", BigInteger, nullable=False, default=0),
    Column("blob_key", String(256), nullable=True),
    Column("ref", Text, nullable=True),
    Column("birth_artifact_id", String(64), nullable=True),
    Column("extra", Text, nullable=True),
)
Index("ix_artifact_files_digest", artifact_files.c.digest)

artifact_usages = Table(
    "artifact_usages",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("used_as", String(256), nullable=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_artifact_usages_artifact", artifact_usages.c.artifact_id)

# Migration 0005: runs that logged a version (a deduplicated log adds its run here too).
artifact_outputs = Table(
    "artifact_outputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_artifact_outputs_artifact", artifact_outputs.c.artifact_id)

artifact_multipart_uploads = Table(
    "artifact_multipart_uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           nullable=False),
    Column("md5_hex", String(32), nullable=False),
    Column("part_count", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Migration 0010: digests uploaded for a pending artifact (its upload session). A manifest
# entry may name a digest only when it is here or the committer can read a file holding it.
artifact_upload_proofs = Table(
    "artifact_upload_proofs",
    metadata,
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("md5_hex", String(32), primary_key=True),
)

# Migration 0010: upload URLs are single-use. A token's nonce is kept (with the MD5 of what
# it stored, so a retry of the same bytes is answered alike) until the token expires.
used_upload_tokens = Table(
    "used_upload_tokens",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("digest", String(32), nullable=False),
    Column("expires_at", Float, nullable=False),
)
Index("ix_used_upload_tokens_expires", used_upload_tokens.c.expires_at)

# -- history tiers (migration 0004) ----------------------------------------------------------

# A run's compacted history: immutable Parquet parts with increasing, disjoint step ranges
# (a resumed run that ends again gets another part; clients cache parts by position).
history_exports = Table(
    "history_exports",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("blob_key", String(256), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("min_step", BigInteger, nullable=True),
    Column("max_step", BigInteger, nullable=True),
    Column("key_stats", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
)

history_compaction = Table(
    "history_compaction",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("requested_at", Float, nullable=False),
    Column("claimed_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)

# Migration 0012: sweeps, their agents, the parameter sets handed out, and run alerts.
sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("display_name", String(256), nullable=True),
    Column("description", Text, nullable=True),
    # The config as the client sent it (YAML text); parsed by domain.sweeps.config.
    Column("config", Text, nullable=False),
    Column("method", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    # Seeds the random and bayes methods, so proposals do not depend on the server process.
    Column("seed", BigInteger, nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=True),
    UniqueConstraint("project_id", "name", name="uq_sweeps_project_name"),
)

sweep_agents = Table(
    "sweep_agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("host", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("total_runs", Integer, nullable=False, default=0),
    UniqueConstraint("sweep_id", "name", name="uq_sweep_agents_sweep_name"),
)

sweep_runs = Table(
    "sweep_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("run_name", String(128), nullable=False),
    Column("agent_id", Integer, ForeignKey("sweep_agents.id", ondelete="SET NULL"),
           nullable=True),
    Column("params", Text, nullable=False),
    # The bayes method's search coordinates (JSON), null for the other methods.
    Column("coordinates", Text, nullable=True),
    # The grid point's index: unique, so two agents never get the same point.
    Column("grid_index", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("sweep_id", "run_name", name="uq_sweep_runs_sweep_run"),
    UniqueConstraint("sweep_id", "grid_index", name="uq_sweep_runs_sweep_grid"),
)

run_alerts = Table(
    "run_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("wait_duration", Float, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_run_alerts_run_title", run_alerts.c.run_id, run_alerts.c.title, run_alerts.c.created_at)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("run_alerts.id", ondelete="CASCADE"), nullable=False),
    Column("destination", Text, nullable=False),
    # pending -> delivered | failed (after the last attempt)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", Float, nullable=True),
)
Index("ix_alert_deliveries_due", alert_deliveries.c.state, alert_deliveries.c.next_attempt_at)

# Migration 0014: an entity's own alert webhook (besides the server-wide destinations).
entity_alert_settings = Table(
    "entity_alert_settings",
    metadata,
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"),
           primary_key=True),
    Column("webhook_url", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)
