"""Receiving file bytes: stream to a temporary file while hashing, then into the blob store.

Blobs are content-addressed (``cas/<md5 hex>``) so identical files across runs and artifact
versions are stored once.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from tracklet.errors import NotFound
from tracklet.storage import Storage
from tracklet.storage.blobs.base import CHUNK
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.metadata import runs as run_repo

METADATA_FILE = "wandb-metadata.json"
_MAX_METADATA_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    """Where the uploaded bytes ended up."""

    key: str
    md5_b64: str
    size: int


def cas_key(md5_hex: str) -> str:
    """The content-addressed blob key for an MD5 digest."""
    return f"cas/{md5_hex[:2]}/{md5_hex[2:4]}/{md5_hex}"


def store_stream(storage: Storage, spool: BinaryIO) -> StoredBlob:
    """Hash ``spool`` (a seekable file), then put it in the blob store unless already there."""
    md5 = hashlib.md5()
    spool.seek(0)
    size = 0
    while chunk := spool.read(CHUNK):
        md5.update(chunk)
        size += len(chunk)
    key = cas_key(md5.hexdigest())
    if not storage.blobs.exists(key):
        spool.seek(0)
        storage.blobs.put(key, spool)
    return StoredBlob(key=key, md5_b64=base64.b64encode(md5.digest()).decode(), size=size)


def new_spool() -> BinaryIO:
    """A temporary file for an incoming body; memory use stays bounded."""
    return tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # type: ignore[return-value]


def guess_mimetype(name: str) -> str:
    """The MIME type W&B would report for a file name."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def metadata_columns(text: str) -> dict[str, Any]:
    """Run columns to fill from the SDK's ``wandb-metadata.json``: the text itself, plus host,
    program, git commit and remote (as the SDK's environment probe saw them)."""
    doc = loads_object(text)
    if doc is None:
        return {}
    values: dict[str, Any] = {"metadata": text}
    raw_git = doc.get("git")
    git: dict[str, Any] = raw_git if isinstance(raw_git, dict) else {}
    for column, value, limit in (
        ("host", doc.get("host"), 256),
        ("program", doc.get("program") or doc.get("codePath"), None),
        ("commit_hash", git.get("commit"), 64),
        ("repo", git.get("remote"), None),
    ):
        if isinstance(value, str) and value and (limit is None or len(value) <= limit):
            values[column] = value
    return values


def store_run_file(storage: Storage, spool: BinaryIO, run_id: int, name: str) -> StoredBlob:
    """Store an uploaded run file and record it; NotFound when the run is gone.

    For ``wandb-metadata.json`` the run's metadata, host, program and commit are filled in,
    keeping any value UpsertBucket already set.
    """
    blob = store_stream(storage, spool)
    metadata: dict[str, Any] = {}
    if name == METADATA_FILE and blob.size < _MAX_METADATA_BYTES:
        spool.seek(0)
        metadata = metadata_columns(spool.read().decode("utf-8", errors="replace"))
    with storage.db.write() as conn:
        run = run_repo.get_run_by_id(conn, run_id)
        if run is None:
            raise NotFound("the run this upload URL was made for no longer exists")
        run_repo.store_run_file(conn, run_id, name, blob.key, blob.md5_b64, blob.size,
                                guess_mimetype(name))
        if metadata:
            current = {"host": run.host, "program": run.program, "commit_hash": run.commit,
                       "repo": run.repo}
            fill = {k: v for k, v in metadata.items() if k == "metadata" or not current.get(k)}
            run_repo.set_run_columns(conn, run_id, **fill)
    return blob
