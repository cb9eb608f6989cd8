"""Artifacts: records, name and alias rules, manifests and digests (no I/O).

An *artifact* is one immutable version of a set of files. Versions live in a *sequence*
(the collection a run logs to, ``dataset:v0, v1, ...``); a *portfolio* is a collection that
only links to versions born elsewhere (``run.link_artifact``). Both are collections, and an
artifact's place in a collection is a *membership* with its own version index and aliases.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from tracklet.domain.names import validate_file_path, validate_name
from tracklet.errors import InvalidInput


class ArtifactState(str, Enum):
    """Lifecycle of an artifact version."""

    PENDING = "PENDING"
    COMMITTED = "COMMITTED"
    DELETED = "DELETED"


class CollectionKind(str, Enum):
    """A sequence owns the versions logged to it; a portfolio only links to them."""

    SEQUENCE = "SEQUENCE"
    PORTFOLIO = "PORTFOLIO"

    @property
    def typename(self) -> str:
        """The GraphQL ``__typename`` of a collection of this kind."""
        return "ArtifactSequence" if self is CollectionKind.SEQUENCE else "ArtifactPortfolio"


TTL_INHERIT = -1
TTL_DISABLED = -2
EMPTY_MD5_B64 = "1B2M2Y8AsgTpgAmY7PhCfg=="
_VERSION = re.compile(r"v(\d{1,9})")
_MAX_ALIAS = 128
_REF = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class ArtifactType:
    """A named kind of artifact within a project (``dataset``, ``model``, ``run_table``)."""

    id: int
    project_id: int
    name: str
    description: str | None
    created_at: float


@dataclass(frozen=True)
class Collection:
    """A sequence or portfolio of artifact versions in a project."""

    id: int
    project_id: int
    entity: str
    project: str
    type_id: int
    type_name: str
    name: str
    kind: CollectionKind
    description: str | None
    created_at: float
    updated_at: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifact:
    """One artifact version, as stored. ``version_index`` is its index in its sequence."""

    id: int
    project_id: int
    entity: str
    project: str
    sequence_id: int
    sequence_name: str
    type_name: str
    version_index: int | None
    digest: str
    digest_algorithm: str
    state: ArtifactState
    description: str | None
    metadata: str | None
    tags: tuple[str, ...]
    size: int
    file_count: int
    history_step: int | None
    ttl_seconds: int | None
    ttl_inherited: bool
    created_by_run_id: int | None
    client_id: str | None
    manifest_blob_key: str | None
    created_at: float
    updated_at: float
    manifest_type: str | None = None
    base_artifact_id: int | None = None
    distributed_id: str | None = None


@dataclass(frozen=True)
class Alias:
    """A movable name for one version within one collection."""

    id: int
    collection_id: int
    artifact_id: int
    alias: str


@dataclass(frozen=True)
class Membership:
    """An artifact's place in a collection (its source sequence or a portfolio)."""

    collection: Collection
    artifact: Artifact
    version_index: int
    created_at: float
    aliases: tuple[Alias, ...]


@dataclass(frozen=True)
class ManifestEntry:
    """One file of an artifact manifest: stored bytes (digest = base64 MD5) or a reference."""

    path: str
    digest: str
    size: int
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: str | None = None

    @property
    def is_reference(self) -> bool:
        """Whether the bytes live outside tracklet (s3://, https://, file://, ...)."""
        return self.ref is not None


@dataclass(frozen=True)
class ArtifactFile:
    """A stored file (or reference) of a committed artifact."""

    artifact_id: int
    path: str
    digest: str
    size: int
    blob_key: str | None
    ref: str | None
    birth_artifact_id: str | None
    extra: str | None


def validate_artifact_name(value: Any) -> str:
    """Collection names follow entity/project rules: no slashes, no '..', no path tricks."""
    if not isinstance(value, str):
        raise InvalidInput("artifact name must be a string")
    return validate_name("artifact", value)


def validate_type_name(value: Any) -> str:
    """Artifact type names (``dataset``, ``run_table``...) follow the same rules as names."""
    if not isinstance(value, str):
        raise InvalidInput("artifact type must be a string")
    return validate_name("artifact type", value)


def validate_alias(value: Any) -> str:
    """Aliases: 1-128 printable characters without '/' or ':'; ``vN`` is reserved."""
    if not isinstance(value, str) or not value or len(value) > _MAX_ALIAS:
        raise InvalidInput(f"invalid alias {value!r}: use 1-{_MAX_ALIAS} characters")
    if any(c in value for c in "/:") or not value.isprintable():
        raise InvalidInput(f"invalid alias {value!r}: no '/', ':' or control characters")
    if _VERSION.fullmatch(value):
        raise InvalidInput(f"alias {value!r} is reserved for version numbers")
    return value


def parse_version(alias: str) -> int | None:
    """The N of a ``vN`` alias, else None."""
    match = _VERSION.fullmatch(alias)
    return int(match.group(1)) if match else None


def split_name(name: Any) -> tuple[str, str]:
    """``collection:alias`` (alias defaults to ``latest``) with the collection validated."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("artifact name must be a non-empty string")
    collection, sep, alias = name.partition(":")
    validate_artifact_name(collection)
    return collection, (alias if sep and alias else "latest")


def md5_b64_to_hex(value: Any) -> str:
    """Hex form of a base64 MD5 digest; InvalidInput unless it is exactly 16 bytes."""
    if not isinstance(value, str):
        raise InvalidInput("md5 must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"md5 {value!r} is not valid base64") from None
    if len(raw) != 16:
        raise InvalidInput(f"md5 {value!r} is not a 16-byte MD5 digest")
    return raw.hex()


def md5_hex_to_b64(value: str) -> str:
    """Base64 form of a hex MD5 digest; InvalidInput for anything but 32 hex digits."""
    if not re.fullmatch(r"[0-9a-fA-F]{32}", value or ""):
        raise InvalidInput(f"{value!r} is not a hex MD5 digest")
    return base64.b64encode(bytes.fromhex(value)).decode()


def parse_manifest(doc: Any) -> list[ManifestEntry]:
    """The entries of an uploaded ``wandb_manifest.json``; InvalidInput when malformed."""
    if not isinstance(doc, dict):
        raise InvalidInput("artifact manifest must be a JSON object")
    if doc.get("version") != 1:
        raise InvalidInput(f"unsupported artifact manifest version {doc.get('version')!r}")
    contents = doc.get("contents")
    if not isinstance(contents, dict):
        raise InvalidInput("artifact manifest has no 'contents' object")
    entries = []
    for path, raw in contents.items():
        validate_file_path(path)
        if not isinstance(raw, dict):
            raise InvalidInput(f"manifest entry {path!r} must be an object")
        digest, size, ref = raw.get("digest"), raw.get("size", 0), raw.get("ref")
        if not isinstance(digest, str) or not digest:
            raise InvalidInput(f"manifest entry {path!r} has no digest")
        if size is None:
            size = 0
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(f"manifest entry {path!r} has an invalid size")
        if ref is not None and (not isinstance(ref, str) or not _REF.match(ref)):
            raise InvalidInput(f"manifest entry {path!r} has an unsupported reference {ref!r}")
        if ref is None:
            md5_b64_to_hex(digest)
        birth = raw.get("birthArtifactID")
        extra = raw.get("extra")
        entries.append(ManifestEntry(
            path=path, digest=digest, size=size, ref=ref,
            birth_artifact_id=birth if isinstance(birth, str) else None,
            extra=None if not extra else _json_text(extra),
        ))
    return entries


def manifest_digest(entries: list[ManifestEntry]) -> str:
    """The artifact digest the SDK computes: hex MD5 over ``path:digest`` lines by path."""
    md5 = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for entry in sorted(entries, key=lambda e: e.path):
        md5.update(f"{entry.path}:{entry.digest}\n".encode())
    return md5.hexdigest()


def commit_hash(artifact: Artifact) -> str | None:
    """A 20-hex-digit name for a committed version (W&B's ``commitHash``); None while pending.

    Derived from the version's id and content digest, so it is stable across reads.
    """
    if artifact.state is not ArtifactState.COMMITTED:
        return None
    seed = f"tracklet-commit:{artifact.id}:{artifact.digest}".encode()
    return hashlib.sha256(seed).hexdigest()[:20]


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
