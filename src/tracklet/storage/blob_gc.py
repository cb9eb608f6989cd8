"""Blob garbage collection: mark what the database references, sweep the rest once it is
older than a grace period.

Referenced: run files, the files and manifests of artifact versions that are not deleted,
history exports, the digests uploaded for artifact versions not deleted (a pending
version's upload session), and the parts of multipart uploads in progress. Only
tracklet's own prefixes are swept (``cas/``, ``history/``, ``multipart/``).

An upload puts its blob before the row that references it is written, and content shared
by address is reused without writing it again; so an object younger than the grace period
is never collected, and an upload that reuses an object older than :data:`REFRESH_AFTER_S`
writes it again first, which makes it young (``ingest.uploads``). Right before deleting, the
sweep checks the key's references and its age once more. What is left is the moment between
that last check and the delete (one request to the store): an upload rewriting the object
in exactly that moment loses it, and the SDK's retry of the upload brings it back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from tracklet.errors import NotFound
from tracklet.storage.facade import Storage
from tracklet.storage.metadata.tables import (
    artifact_files,
    artifact_multipart_uploads,
    artifact_upload_proofs,
    artifacts,
    history_exports,
    run_files,
)

#: Objects younger than this are never collected (an upload may be about to reference them).
DEFAULT_GRACE_S = 24 * 3600.0
#: An upload reusing an object older than this writes it again, so it is young when the
#: reference lands (well inside any grace period a collector uses).
REFRESH_AFTER_S = 3600.0
SWEPT_PREFIXES = ("cas/", "history/", "multipart/")
_DELETED = "DELETED"


@dataclass
class GcReport:
    """What a collection found and (unless a dry run) removed."""

    scanned: int = 0
    referenced: int = 0
    young: int = 0
    collected: int = 0
    collected_bytes: int = 0
    keys: list[str] = field(default_factory=list)


def cas_key(md5_hex: str) -> str:
    """The content-addressed key of an MD5 digest (as ``ingest.uploads`` stores it)."""
    return f"cas/{md5_hex[:2]}/{md5_hex[2:4]}/{md5_hex}"


def referenced_keys(conn: Connection) -> tuple[set[str], set[str]]:
    """The keys the database references, and the key prefixes of multipart uploads in
    progress."""
    keys: set[str] = set()
    for query in (
        select(run_files.c.blob_key),
        select(artifact_files.c.blob_key).join(
            artifacts, artifacts.c.id == artifact_files.c.artifact_id).where(
            artifacts.c.state != _DELETED),
        select(artifacts.c.manifest_blob_key).where(artifacts.c.state != _DELETED),
        select(history_exports.c.blob_key),
    ):
        keys.update(k for k in conn.execute(query).scalars() if k)
    proofs = select(artifact_upload_proofs.c.md5_hex).join(
        artifacts, artifacts.c.id == artifact_upload_proofs.c.artifact_id).where(
        artifacts.c.state != _DELETED)
    keys.update(cas_key(d) for d in conn.execute(proofs).scalars()
                if isinstance(d, str) and len(d) == 32)
    uploads = {f"multipart/{u}/" for u in
               conn.execute(select(artifact_multipart_uploads.c.upload_id)).scalars()}
    return keys, uploads


def _still_referenced(conn: Connection, key: str) -> bool:
    for column in (run_files.c.blob_key, history_exports.c.blob_key):
        if conn.execute(select(column).where(column == key).limit(1)).first():
            return True
    live = artifacts.c.state != _DELETED
    if conn.execute(select(artifacts.c.id).where(artifacts.c.manifest_blob_key == key, live)
                    .limit(1)).first():
        return True
    if conn.execute(select(artifact_files.c.artifact_id).join(
            artifacts, artifacts.c.id == artifact_files.c.artifact_id)
            .where(artifact_files.c.blob_key == key, live).limit(1)).first():
        return True
    digest = key.rsplit("/", 1)[-1]
    return bool(conn.execute(select(artifact_upload_proofs.c.md5_hex).join(
        artifacts, artifacts.c.id == artifact_upload_proofs.c.artifact_id).where(
        artifact_upload_proofs.c.md5_hex == digest, live).limit(1)).first())


def collect(storage: Storage, grace_s: float = DEFAULT_GRACE_S, dry_run: bool = False,
            prefixes: Iterable[str] = SWEPT_PREFIXES) -> GcReport:
    """Delete (or with ``dry_run`` only list) the unreferenced objects older than
    ``grace_s`` seconds."""
    report = GcReport()
    with storage.db.read() as conn:
        keys, uploads = referenced_keys(conn)
    for prefix in prefixes:
        for blob in storage.blobs.listing(prefix):
            report.scanned += 1
            if blob.key in keys or any(blob.key.startswith(u) for u in uploads):
                report.referenced += 1
                continue
            if blob.modified > time.time() - grace_s:
                report.young += 1
                continue
            if not dry_run and not _sweep(storage, blob.key, grace_s):
                report.referenced += 1
                continue
            report.collected += 1
            report.collected_bytes += blob.size
            report.keys.append(blob.key)
    return report


def _sweep(storage: Storage, key: str, grace_s: float) -> bool:
    """Delete ``key`` unless it became referenced or young since the mark."""
    with storage.db.read() as conn:
        if _still_referenced(conn, key):
            return False
        if key.startswith("multipart/") and conn.execute(
                select(artifact_multipart_uploads.c.upload_id).where(
                    artifact_multipart_uploads.c.upload_id == key.split("/")[1])).first():
            return False
    try:
        if storage.blobs.info(key).modified > time.time() - grace_s:
            return False
    except NotFound:
        return False
    storage.blobs.delete(key)
    storage.files.forget(key)
    return True
