"""Records the storage layer returns: plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """A person or service account; ``entity`` is their default entity's name."""

    id: int
    username: str
    email: str | None
    admin: bool
    entity_id: int
    entity: str
    created_at: float
    #: A team's non-human user: keys only, no password, no sign-in.
    service_account: bool = False


@dataclass(frozen=True)
class ApiKey:
    """One of a user's API keys, as listed: never the secret."""

    id: int
    name: str
    created_at: float


@dataclass(frozen=True)
class Entity:
    """A namespace owning projects (a user's own, or a team)."""

    id: int
    name: str
    is_team: bool
    created_at: float
    #: The organization a team belongs to (None: none).
    org_id: int | None = None


@dataclass(frozen=True)
class Project:
    """A project within an entity."""

    id: int
    entity_id: int
    entity: str
    name: str
    description: str | None
    created_at: float
    updated_at: float
    #: PRIVATE, TEAM or ORGANIZATION (``domain.policy.Visibility``); None is TEAM.
    access: str | None = None


@dataclass(frozen=True)
class Run:
    """A run's metadata. JSON documents are kept as the text the client sent."""

    id: int
    project_id: int
    entity: str
    project: str
    name: str
    user_id: int | None
    username: str | None
    display_name: str | None
    state: str
    config: str
    summary: str
    system_metrics: str
    metadata: str | None
    tags: tuple[str, ...]
    notes: str | None
    description: str | None
    group: str | None
    job_type: str | None
    sweep_name: str | None
    host: str | None
    program: str | None
    repo: str | None
    commit: str | None
    exit_code: int | None
    created_at: float
    updated_at: float
    heartbeat_at: float
    history_line_count: int
    events_line_count: int
    log_line_count: int
    last_step: int | None
    stop_requested: bool = False


@dataclass(frozen=True)
class RunFile:
    """A file saved with a run (wandb.save, media, metadata)."""

    run_id: int
    name: str
    blob_key: str | None
    md5: str | None
    size: int
    mimetype: str | None
    created_at: float
    updated_at: float
    uploaded: bool


@dataclass(frozen=True)
class RunFields:
    """The optional fields of a run upsert; None means 'leave unchanged'."""

    display_name: str | None = None
    config: str | None = None
    tags: tuple[str, ...] | None = None
    notes: str | None = None
    description: str | None = None
    group: str | None = None
    job_type: str | None = None
    sweep_name: str | None = None
    host: str | None = None
    program: str | None = None
    repo: str | None = None
    commit: str | None = None
    state: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class StreamChunk:
    """Lines to write at ``offset`` (line index) of one logical file."""

    offset: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class FileStreamUpdate:
    """One parsed file_stream request; ``history_steps`` holds each history line's ``_step``."""

    history: StreamChunk | None = None
    history_steps: tuple[int | None, ...] = ()
    events: StreamChunk | None = None
    summary: StreamChunk | None = None
    output: StreamChunk | None = None
    uploaded: tuple[str, ...] = ()
    preempting: bool = False
    complete: bool = False
    exit_code: int | None = None
