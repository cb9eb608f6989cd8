"""Blob stores, chosen by URL scheme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from tracklet.errors import StoreUnusable
from tracklet.storage.blobs.base import BlobStore
from tracklet.storage.blobs.local import LocalBlobStore
from tracklet.storage.blobs.memory import MemoryBlobStore

__all__ = ["BlobStore", "LocalBlobStore", "MemoryBlobStore", "open_blob_store"]


def open_blob_store(url: str, **options: str) -> BlobStore:
    """Open the store named by ``url``: ``file:///path``, a plain path, ``memory://`` or ``s3://``."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        root = Path(parsed.path if parsed.scheme else url)
        try:
            return LocalBlobStore(root)
        except OSError as exc:
            raise StoreUnusable(f"cannot use the blob folder {str(root)!r}: "
                                f"{exc.strerror or exc}") from exc
    if parsed.scheme == "memory":
        return MemoryBlobStore()
    if parsed.scheme == "s3":
        try:
            from tracklet.storage.blobs.s3 import S3BlobStore
        except ImportError as exc:
            raise StoreUnusable(
                "s3:// blob stores need boto3: pip install 'tracklet[s3]'"
            ) from exc

        return S3BlobStore(
            bucket=parsed.netloc,
            prefix=parsed.path.lstrip("/"),
            endpoint_url=options.get("endpoint_url") or None,
            region=options.get("region") or "us-east-1",
        )
    raise StoreUnusable(
        f"unsupported blob store URL {url!r}: use a folder path or file:///path, "
        "s3://bucket/prefix (AWS S3, MinIO and other S3-compatible stores; the endpoint from "
        "TRACKLET_S3_ENDPOINT_URL) or memory:// (a throwaway store for tests)")
