"""Receiving file bytes: stream to a temporary file while hashing, then into the blob store.

Blobs are content-addressed (``cas/<md5 hex>``) so identical files across runs and artifact
versions are stored once.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import Connection

from tracklet.domain.media import guess_type
from tracklet.errors import InvalidInput, NotFound, PermissionDenied
from tracklet.storage import Storage
from tracklet.storage.blob_gc import REFRESH_AFTER_S
from tracklet.storage.blobs.base import CHUNK
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata import upload_grants

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
    if _needs_put(storage, key):
        spool.seek(0)
        storage.blobs.put(key, spool)
    return StoredBlob(key=key, md5_b64=base64.b64encode(md5.digest()).decode(), size=size)


def _needs_put(storage: Storage, key: str) -> bool:
    """Whether to write ``key``: it is missing, or old enough that garbage collection could
    take it before the row referencing it lands (rewriting makes it young again; see
    storage/blob_gc.py)."""
    try:
        written = storage.blobs.info(key).modified
    except NotFound:
        return True
    return written < time.time() - REFRESH_AFTER_S


def _stored(md5_hex: str, spool: BinaryIO) -> StoredBlob:
    """What an earlier upload of the same bytes stored (a retry stores nothing new)."""
    spool.seek(0, 2)
    return StoredBlob(key=cas_key(md5_hex), md5_b64=base64.b64encode(
        bytes.fromhex(md5_hex)).decode(), size=spool.tell())


def new_spool() -> BinaryIO:
    """A temporary file for an incoming body; memory use stays bounded."""
    return tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # type: ignore[return-value]


def guess_mimetype(name: str) -> str:
    """The MIME type W&B would report for a file name."""
    return guess_type(name)


@dataclass(frozen=True)
class UploadToken:
    """The single-use part of a signed upload URL: its nonce and expiry (epoch seconds).

    An upload URL stores bytes once. A retry that sends the same bytes again (the SDK's
    answer to a lost response) is answered as the first upload was and changes nothing;
    any other use of a spent URL is refused, so a leaked one cannot overwrite a file.
    """

    nonce: str
    expires_at: float

    def check(self, storage: Storage, md5_hex: str) -> bool:
        """Before storing: True when unused, False when it already stored these very bytes;
        PermissionDenied when it stored others."""
        with storage.db.read() as conn:
            used = upload_grants.token_use(conn, self.nonce)
        return self._judge(used, md5_hex)

    def spend(self, conn: Connection, md5_hex: str) -> bool:
        """In the write that records the upload: True when this use is the first."""
        return self._judge(upload_grants.use_token(conn, self.nonce, md5_hex,
                                                   self.expires_at), md5_hex)

    @staticmethod
    def _judge(used: str | None, md5_hex: str) -> bool:
        if used is None:
            return True
        if used == md5_hex:
            return False
        raise PermissionDenied("this upload URL was already used; ask for a new one")


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
    if _needs_put(storage, key):
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


def _md5_hex(spool: BinaryIO) -> str:
    md5 = hashlib.md5()
    spool.seek(0)
    while chunk := spool.read(CHUNK):
        md5.update(chunk)
    return md5.hexdigest()


def store_run_file(storage: Storage, spool: BinaryIO, run_id: int, name: str,
                   token: UploadToken | None = None) -> StoredBlob:
    """Store an uploaded run file and record it; NotFound when the run is gone.

    With ``token`` (the upload URL's), the upload is its only one: PermissionDenied when
    the token already stored other bytes, nothing changes when it stored these.
    For ``wandb-metadata.json`` the run's metadata, host, program and commit are filled in,
    keeping any value UpsertBucket already set.
    """
    if token is not None:
        md5_hex = _md5_hex(spool)
        if not token.check(storage, md5_hex):
            return _stored(md5_hex, spool)
    blob = store_stream(storage, spool)
    metadata: dict[str, Any] = {}
    if name == METADATA_FILE and blob.size < _MAX_METADATA_BYTES:
        spool.seek(0)
        metadata = metadata_columns(spool.read().decode("utf-8", errors="replace"))
    with storage.db.write() as conn:
        run = run_repo.get_run_by_id(conn, run_id)
        if run is None:
            raise NotFound("the run this upload URL was made for no longer exists")
        if token is not None and not token.spend(conn, blob.key.rsplit("/", 1)[-1]):
            return blob
        run_repo.store_run_file(conn, run_id, name, blob.key, blob.md5_b64, blob.size,
                                guess_mimetype(name))
        if metadata:
            current = {"host": run.host, "program": run.program, "commit_hash": run.commit,
                       "repo": run.repo}
            fill = {k: v for k, v in metadata.items() if k == "metadata" or not current.get(k)}
            run_repo.set_run_columns(conn, run_id, **fill)
    return blob
