"""Signed URLs handed to clients for uploads and downloads."""

from __future__ import annotations

from urllib.parse import quote

from tracklet.config import Settings
from tracklet.server.signing import sign
from tracklet.storage import Storage

UPLOAD_PATH = "/storage/upload"
DOWNLOAD_PATH = "/storage/file"


def run_file_upload_url(
    storage: Storage, settings: Settings, base_url: str, run_id: int, name: str
) -> str:
    """Where the SDK PUTs the bytes of run file ``name``."""
    token = sign(storage.signing_secret(), {"k": "up", "r": run_id, "n": name},
                 settings.signed_url_ttl_s)
    return f"{base_url}{UPLOAD_PATH}/{quote(name)}?t={token}"


def blob_download_url(
    storage: Storage, settings: Settings, base_url: str, blob_key: str, name: str
) -> str:
    """A signed GET URL for a stored blob, named ``name`` for the client's benefit."""
    direct = storage.blobs.presigned_get(blob_key, settings.signed_url_ttl_s)
    if direct is not None:
        return direct
    token = sign(storage.signing_secret(), {"k": "get", "b": blob_key},
                 settings.signed_url_ttl_s)
    return f"{base_url}{DOWNLOAD_PATH}/{quote(name)}?t={token}"


EXPORT_PATH = "/storage/export"


def history_export_url(
    storage: Storage, settings: Settings, base_url: str, blob_key: str, name: str
) -> str:
    """A signed GET (and HEAD, and Range) URL of a run's Parquet history export.

    Always served by tracklet, even over object storage: the SDK's reader asks for the size
    with HEAD, which a presigned GET URL does not authorise on S3.
    """
    token = sign(storage.signing_secret(), {"k": "hist", "b": blob_key},
                 settings.signed_url_ttl_s)
    return f"{base_url}{EXPORT_PATH}/{quote(name)}?t={token}"
