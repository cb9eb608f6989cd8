"""A physical backup of a SQLite deployment, taken while servers run, and its restore.

``backup`` copies the database with SQLite's online backup API (a consistent snapshot,
writers keep going), then every blob of the blob store (any backend), then the server
secret (without it the API keys and signed URLs of the backup no longer verify). Blobs are
copied after the snapshot: a blob the snapshot references cannot be collected meanwhile
(garbage collection keeps it for the grace period), and newer ones are merely extra.
Running it again into the same folder copies only the blobs not there yet.

PostgreSQL deployments are backed up with ``pg_dump`` (and the bucket's own versioning);
``tracklet export`` is the portable, logical alternative for any deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from tracklet.config import Settings
from tracklet.errors import Conflict, InvalidInput, Unsupported
from tracklet.storage.blobs import open_blob_store
from tracklet.storage.secret import SECRET_FILE

DB_FILE = "tracklet.db"
BLOBS = "blobs"
MANIFEST = "backup.json"


@dataclass
class BackupReport:
    """What a backup or restore copied."""

    db_bytes: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    secret: bool = False


def _sqlite_path(settings: Settings) -> Path:
    url = settings.db_url
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        raise Unsupported("tracklet backup copies a SQLite database; back PostgreSQL up with "
                          "pg_dump, or use `tracklet export` for a logical backup")
    return Path(url.removeprefix("sqlite:///"))


def backup(settings: Settings, target: Path) -> BackupReport:
    """Back the deployment ``settings`` names up into the folder ``target``."""
    source = _sqlite_path(settings)
    if not source.exists():
        raise InvalidInput(f"no database at {source} to back up")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    report = BackupReport()
    tmp = target / (DB_FILE + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=4096)
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, target / DB_FILE)
    report.db_bytes = (target / DB_FILE).stat().st_size
    store = open_blob_store(settings.blobs_url, endpoint_url=settings.s3_endpoint_url,
                            region=settings.s3_region)
    try:
        for blob in store.listing():
            path = target / BLOBS / blob.key
            if path.exists() and path.stat().st_size == blob.size:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".tmp")
            with part.open("wb") as out:
                for chunk in store.open(blob.key):
                    out.write(chunk)
            os.replace(part, path)
            report.blobs += 1
            report.blob_bytes += blob.size
    finally:
        store.close()
    secret = settings.resolved_data_dir / SECRET_FILE
    if secret.exists():
        shutil.copyfile(secret, target / SECRET_FILE)
        os.chmod(target / SECRET_FILE, 0o600)
        report.secret = True
    (target / MANIFEST).write_text(json.dumps({
        "format": "tracklet-backup", "version": 1, "created_at": time.time(),
        "database": DB_FILE, "blobs": BLOBS, "secret": report.secret}, indent=1))
    return report


def restore(settings: Settings, source: Path) -> BackupReport:
    """Restore the backup in ``source`` into the (empty) deployment ``settings`` names."""
    if not (source / MANIFEST).exists() or not (source / DB_FILE).exists():
        raise InvalidInput(f"{source} is not a tracklet backup (no {MANIFEST})")
    target = _sqlite_path(settings)
    if target.exists() and target.stat().st_size > 0:
        raise Conflict(f"{target} exists: restore into a data folder without a database")
    report = BackupReport()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restore")
    shutil.copyfile(source / DB_FILE, tmp)
    os.chmod(tmp, 0o600)
    report.db_bytes = tmp.stat().st_size
    store = open_blob_store(settings.blobs_url, endpoint_url=settings.s3_endpoint_url,
                            region=settings.s3_region)
    try:
        root = source / BLOBS
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                with path.open("rb") as f:
                    store.put(path.relative_to(root).as_posix(), f)
                report.blobs += 1
                report.blob_bytes += path.stat().st_size
    finally:
        store.close()
    secret = source / SECRET_FILE
    if secret.exists() and not settings.secret_key:
        dest = settings.resolved_data_dir / SECRET_FILE
        shutil.copyfile(secret, dest)
        os.chmod(dest, 0o600)
        report.secret = True
    os.replace(tmp, target)
    return report
