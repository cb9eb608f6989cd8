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

from tracklet.errors import InvalidInput, NotFound
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


class HashingSpool:
    """A temporary file that hashes (MD5) and counts what is written to it.

    Bodies are appended in chunks as they arrive, so an upload of any size is hashed in the
    same pass that spools it, and memory holds at most one chunk.
    """

    def __init__(self) -> None:
        self.file: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""
        self._md5.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    @property
    def md5_hex(self) -> str:
        """Hex MD5 of everything written so far."""
        return self._md5.hexdigest()

    @property
    def md5_b64(self) -> str:
        """Base64 MD5 of everything written so far (the form W&B digests take)."""
        return base64.b64encode(self._md5.digest()).decode()

    def close(self) -> None:
        """Delete the temporary file."""
        self.file.close()


def check_md5(actual_b64: str, declared_b64: str | None, what: str) -> None:
    """InvalidInput unless ``declared_b64`` (when given) equals the MD5 of the bytes received."""
    if declared_b64 and declared_b64.strip() != actual_b64:
        raise InvalidInput(
            f"{what}: the uploaded bytes have MD5 {actual_b64}, not the declared "
            f"{declared_b64.strip()}; upload rejected")


def store_spool(storage: Storage, spool: HashingSpool) -> StoredBlob:
    """Put a hashed spool into the blob store under its content address (once per content)."""
    key = cas_key(spool.md5_hex)
    if not storage.blobs.exists(key):
        spool.file.seek(0)
        storage.blobs.put(key, spool.file)
    return StoredBlob(key=key, md5_b64=spool.md5_b64, size=spool.size)


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
