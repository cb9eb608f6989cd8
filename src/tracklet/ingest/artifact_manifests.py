"""Artifact manifests: keeping an upload, and combining incremental and distributed ones.

CreateArtifactManifest names the kind of manifest the client is about to upload:

- ``FULL``: the upload is the version's whole content (the usual case).
- ``INCREMENTAL`` (``Artifact(incremental=True)``, incremental tables): the upload lists only
  files added or changed since ``baseArtifactID``, the sequence's latest version when the
  client created this one. The version's manifest is the base's entries overlaid with them.
- ``PATCH`` (``run.upsert_artifact`` with a ``distributedID``): each run of a distributed
  artifact uploads the files it added; they accumulate on the one pending version until a
  run commits it (``run.finish_artifact``).

A combined manifest is written as a new content-addressed blob, so readers always download
one whole manifest, and the version's digest is recomputed from it at commit.
"""

from __future__ import annotations

from typing import Any

from tracklet.domain.artifacts import Artifact, ArtifactState, ManifestEntry, parse_manifest
from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import Conflict, InvalidInput, NotFound
from tracklet.ingest.uploads import HashingSpool, UploadToken, check_md5, store_spool
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import dumps, loads
from tracklet.storage.metadata import artifacts as repo

MAX_MANIFEST_BYTES = 512 * 1024 * 1024
MANIFEST_TYPES = ("FULL", "INCREMENTAL", "PATCH")
MERGED_TYPES = ("INCREMENTAL", "PATCH")
# Concurrent PATCH uploads for one version retry their compare-and-set this many times.
_PATCH_ATTEMPTS = 20


def set_manifest_kind(storage: Storage, user: User, artifact_id: int, manifest_type: str,
                      base_id: int | None) -> Artifact:
    """Remember how the next manifest upload combines with earlier content (pending only)."""
    if manifest_type not in MANIFEST_TYPES:
        raise InvalidInput(f"manifest type must be one of {', '.join(MANIFEST_TYPES)}")
    with storage.db.read() as conn:
        artifact = repo.get_artifact(conn, artifact_id)
        base = repo.get_artifact(conn, base_id) if base_id is not None else None
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found")
    require(user, Action.WRITE, artifact.entity, artifact.project,
            missing=f"artifact {artifact_id} not found")
    if artifact.state is not ArtifactState.PENDING:
        return artifact
    if manifest_type == "INCREMENTAL" and base_id is not None:
        if base is None or base.state is not ArtifactState.COMMITTED:
            raise InvalidInput(f"base artifact {base_id} is not a committed artifact")
        require(user, Action.READ, base.entity, base.project,
                missing=f"base artifact {base_id} is not a committed artifact")
    with storage.db.write() as conn:
        repo.update_artifact(
            conn, artifact_id, manifest_type=manifest_type,
            base_artifact_id=base_id if manifest_type == "INCREMENTAL" else None)
        updated = repo.get_artifact(conn, artifact_id)
    assert updated is not None
    return updated


def read_manifest_doc(storage: Storage, blob_key: str) -> dict[str, Any]:
    """A stored manifest as a JSON object, checked to be a valid manifest."""
    size = storage.blobs.size(blob_key)
    if size > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"artifact manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    return _parse(b"".join(storage.blobs.open(blob_key)))


def read_manifest(storage: Storage, blob_key: str) -> list[ManifestEntry]:
    """The parsed entries of a stored manifest."""
    return parse_manifest(read_manifest_doc(storage, blob_key))


def _parse(data: bytes) -> dict[str, Any]:
    try:
        doc = loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("artifact manifest is not valid JSON") from None
    parse_manifest(doc)
    assert isinstance(doc, dict)
    return doc


def _overlay(base: dict[str, Any] | None, upload: dict[str, Any]) -> bytes:
    """The uploaded manifest with the base's entries underneath (uploaded entries win)."""
    contents = dict(base["contents"]) if base else {}
    contents.update(upload["contents"])
    return dumps({**upload, "contents": contents}).encode()


def _store_bytes(storage: Storage, data: bytes) -> str:
    spool = HashingSpool()
    try:
        spool.write(data)
        return store_spool(storage, spool).key
    finally:
        spool.close()


def store_manifest(storage: Storage, artifact_id: int, spool: HashingSpool,
                   declared_b64: str | None, token: UploadToken | None = None) -> None:
    """Keep an uploaded manifest for a pending artifact, checked against its digest.

    FULL uploads replace the manifest; INCREMENTAL ones are laid over the base version's;
    PATCH ones over what earlier runs of the distributed artifact sent. A manifest arriving
    after the version was committed changes nothing. With ``token`` (the upload URL's), a
    retry of the same bytes changes nothing and other bytes are refused.
    """
    check_md5(spool.md5_b64, declared_b64, "artifact manifest")
    if spool.size > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"artifact manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    if token is not None and not token.check(storage, spool.md5_hex):
        return
    _store(storage, artifact_id, spool)
    if token is not None:
        with storage.db.write() as conn:
            token.spend(conn, spool.md5_hex)


def _store(storage: Storage, artifact_id: int, spool: HashingSpool) -> None:
    with storage.db.read() as conn:
        artifact = repo.get_artifact(conn, artifact_id)
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found")
    kind = artifact.manifest_type or "FULL"
    if kind not in MERGED_TYPES:
        blob = store_spool(storage, spool)
        _set_manifest(storage, artifact_id, blob.key, expected=None)
        return
    spool.file.seek(0)
    upload = _parse(spool.file.read())
    if kind == "INCREMENTAL":
        base = _base_doc(storage, artifact)
        _set_manifest(storage, artifact_id, _store_bytes(storage, _overlay(base, upload)),
                      expected=None)
        return
    for _ in range(_PATCH_ATTEMPTS):
        current = artifact.manifest_blob_key
        base = read_manifest_doc(storage, current) if current else None
        key = _store_bytes(storage, _overlay(base, upload))
        if _set_manifest(storage, artifact_id, key, expected=current or ""):
            return
        with storage.db.read() as conn:
            refreshed = repo.get_artifact(conn, artifact_id)
        if refreshed is None:
            raise NotFound(f"artifact {artifact_id} not found")
        artifact = refreshed
    raise Conflict("too many concurrent manifest patches for this artifact; retry")


def _base_doc(storage: Storage, artifact: Artifact) -> dict[str, Any] | None:
    if artifact.base_artifact_id is None:
        return None
    with storage.db.read() as conn:
        base = repo.get_artifact(conn, artifact.base_artifact_id)
    if base is None or base.manifest_blob_key is None:
        return None
    return read_manifest_doc(storage, base.manifest_blob_key)


def _set_manifest(storage: Storage, artifact_id: int, key: str, expected: str | None) -> bool:
    """Point a pending artifact at manifest ``key``; with ``expected``, only if its manifest
    is still that one ("" for none). False when another upload got there first."""
    with storage.db.write() as conn:
        if repo.swap_manifest(conn, artifact_id, key, expected):
            return True
        artifact = repo.get_artifact(conn, artifact_id)
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found")
    # Committed (or deleted) meanwhile: a late upload changes nothing.
    return artifact.state is not ArtifactState.PENDING
