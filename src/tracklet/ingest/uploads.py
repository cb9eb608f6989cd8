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
from typing import BinaryIO

from tracklet.storage import Storage
from tracklet.storage.blobs.base import CHUNK


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
