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


ARTIFACT_UPLOAD_PATH = "/storage/artifact"
ARTIFACT_PART_PATH = "/storage/artifact-part"
MANIFEST_UPLOAD_PATH = "/storage/manifest"


def _signed(storage: Storage, settings: Settings, claims: dict[str, object]) -> str:
    return sign(storage.signing_secret(), claims, settings.signed_url_ttl_s)


def artifact_file_upload_url(storage: Storage, settings: Settings, base_url: str,
                             artifact_id: int, md5_b64: str, name: str) -> str:
    """Where the SDK PUTs one artifact file; the bytes must have MD5 ``md5_b64``."""
    token = _signed(storage, settings, {"k": "aup", "a": artifact_id, "m": md5_b64})
    return f"{base_url}{ARTIFACT_UPLOAD_PATH}/{quote(name)}?t={token}"


def artifact_part_upload_url(storage: Storage, settings: Settings, base_url: str,
                             upload_id: str, part: int, name: str) -> str:
    """Where the SDK PUTs part ``part`` of a multipart artifact file upload."""
    token = _signed(storage, settings, {"k": "apt", "u": upload_id, "p": part})
    return f"{base_url}{ARTIFACT_PART_PATH}/{quote(name)}?t={token}"


def manifest_upload_url(storage: Storage, settings: Settings, base_url: str,
                        artifact_id: int, digest_b64: str) -> str:
    """Where the SDK PUTs an artifact's ``wandb_manifest.json``."""
    token = _signed(storage, settings, {"k": "amf", "a": artifact_id, "m": digest_b64})
    return f"{base_url}{MANIFEST_UPLOAD_PATH}/wandb_manifest.json?t={token}"


ARTIFACT_DOWNLOAD_PATH = "/storage/artifact-file"


def artifact_download_url(storage: Storage, settings: Settings, base_url: str, blob_key: str,
                          name: str) -> str:
    """A signed GET URL for an artifact file or manifest (served without re-compression)."""
    direct = storage.blobs.presigned_get(blob_key, settings.signed_url_ttl_s)
    if direct is not None:
        return direct
    token = _signed(storage, settings, {"k": "get", "b": blob_key})
    return f"{base_url}{ARTIFACT_DOWNLOAD_PATH}/{quote(name)}?t={token}"


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
