"""Signed URLs handed to clients for uploads and downloads.

A token names the object it opens by database ids (a run and a file name, an artifact and a
path, a run's export part), never by blob key: the handler looks the object up again, so a
URL stops working when its run or artifact is deleted, and decoding one reveals no content
address. Each token kind belongs to one route and its method(s) (``server/routes.py``).

Upload tokens carry a nonce and are single-use (``ingest.uploads.UploadToken``); they live
``signed_upload_ttl_s`` because the SDK takes upload URLs when it queues files (every part of
a multipart upload at once) and does not refresh them. Download tokens live
``signed_url_ttl_s``: the SDK asks GraphQL for a fresh URL when a download is refused.

Over S3, downloads are presigned GETs on the bucket (the bytes do not pass through tracklet),
with the same lifetime and the response type and disposition forced as
:func:`tracklet.domain.media.delivery` decides. What S3 cannot do is said in the README.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from tracklet.config import Settings
from tracklet.domain.media import delivery
from tracklet.server.signing import sign
from tracklet.storage import Storage

UPLOAD_PATH = "/storage/upload"
DOWNLOAD_PATH = "/storage/file"
ARTIFACT_UPLOAD_PATH = "/storage/artifact"
ARTIFACT_PART_PATH = "/storage/artifact-part"
MANIFEST_UPLOAD_PATH = "/storage/manifest"
ARTIFACT_DOWNLOAD_PATH = "/storage/artifact-file"
EXPORT_PATH = "/storage/export"
MANIFEST_NAME = "wandb_manifest.json"


def _upload(storage: Storage, settings: Settings, claims: dict[str, object]) -> str:
    return sign(storage.signing_secret(), {**claims, "j": secrets.token_hex(12)},
                settings.signed_upload_ttl_s)


def _download(storage: Storage, settings: Settings, claims: dict[str, object]) -> str:
    return sign(storage.signing_secret(), claims, settings.signed_url_ttl_s)


def _presigned(storage: Storage, settings: Settings, blob_key: str, name: str,
               stored_type: str | None = None) -> str | None:
    how = delivery(name, stored_type)
    return storage.blobs.presigned_get(blob_key, settings.signed_url_ttl_s,
                                       content_type=how.media_type,
                                       disposition=how.disposition)


def run_file_upload_url(
    storage: Storage, settings: Settings, base_url: str, run_id: int, name: str
) -> str:
    """Where the SDK PUTs the bytes of run file ``name`` (once)."""
    token = _upload(storage, settings, {"k": "up", "r": run_id, "n": name})
    return f"{base_url}{UPLOAD_PATH}/{quote(name)}?t={token}"


def run_file_download_url(storage: Storage, settings: Settings, base_url: str, run_id: int,
                          name: str, blob_key: str, stored_type: str | None) -> str:
    """A signed GET URL of run file ``name`` (``blob_key`` is used for S3 presigning only)."""
    direct = _presigned(storage, settings, blob_key, name, stored_type)
    if direct is not None:
        return direct
    token = _download(storage, settings, {"k": "file", "r": run_id, "n": name})
    return f"{base_url}{DOWNLOAD_PATH}/{quote(name)}?t={token}"


def artifact_file_upload_url(storage: Storage, settings: Settings, base_url: str,
                             artifact_id: int, md5_b64: str, name: str) -> str:
    """Where the SDK PUTs one artifact file (once); the bytes must have MD5 ``md5_b64``."""
    token = _upload(storage, settings, {"k": "aup", "a": artifact_id, "m": md5_b64})
    return f"{base_url}{ARTIFACT_UPLOAD_PATH}/{quote(name)}?t={token}"


def artifact_part_upload_url(storage: Storage, settings: Settings, base_url: str,
                             upload_id: str, part: int, name: str) -> str:
    """Where the SDK PUTs part ``part`` of a multipart artifact file upload (once)."""
    token = _upload(storage, settings, {"k": "apt", "u": upload_id, "p": part})
    return f"{base_url}{ARTIFACT_PART_PATH}/{quote(name)}?t={token}"


def manifest_upload_url(storage: Storage, settings: Settings, base_url: str,
                        artifact_id: int, digest_b64: str) -> str:
    """Where the SDK PUTs an artifact's ``wandb_manifest.json`` (once)."""
    token = _upload(storage, settings, {"k": "amf", "a": artifact_id, "m": digest_b64})
    return f"{base_url}{MANIFEST_UPLOAD_PATH}/{MANIFEST_NAME}?t={token}"


def artifact_file_download_url(storage: Storage, settings: Settings, base_url: str,
                               artifact_id: int, path: str, blob_key: str) -> str:
    """A signed GET URL of file ``path`` of an artifact (served without re-compression)."""
    direct = _presigned(storage, settings, blob_key, path)
    if direct is not None:
        return direct
    token = _download(storage, settings, {"k": "afile", "a": artifact_id, "p": path})
    return f"{base_url}{ARTIFACT_DOWNLOAD_PATH}/{quote(path)}?t={token}"


def manifest_download_url(storage: Storage, settings: Settings, base_url: str,
                          artifact_id: int, blob_key: str) -> str:
    """A signed GET URL of an artifact's manifest."""
    direct = _presigned(storage, settings, blob_key, MANIFEST_NAME)
    if direct is not None:
        return direct
    token = _download(storage, settings, {"k": "afile", "a": artifact_id})
    return f"{base_url}{ARTIFACT_DOWNLOAD_PATH}/{MANIFEST_NAME}?t={token}"


def history_export_url(storage: Storage, settings: Settings, base_url: str, run_id: int,
                       part: int, name: str) -> str:
    """A signed GET (and HEAD, and Range) URL of part ``part`` of a run's Parquet export.

    Always served by tracklet, even over object storage: the SDK's reader asks for the size
    with HEAD, which a presigned GET URL does not authorise on S3.
    """
    token = _download(storage, settings, {"k": "hist", "r": run_id, "p": part})
    return f"{base_url}{EXPORT_PATH}/{quote(name)}?t={token}"
