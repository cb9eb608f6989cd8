"""A backup of a deployment, taken while servers run, and its restore.

``backup`` copies the database as a consistent snapshot while writers keep going: SQLite
with its online backup API, PostgreSQL with ``pg_dump`` (:mod:`tracklet.storage.pg_dump`).
Then every blob of the blob store (any backend: a local folder or an S3 bucket) into the
backup folder, then the server secret (without it the API keys and signed URLs of the
backup no longer verify). Blobs are copied after the snapshot: a blob the snapshot
references cannot be collected meanwhile (garbage collection keeps it for the grace
period), and newer ones are merely extra. Running it again into the same folder copies only
the blobs not there yet. A backup restores into the same kind of database it came from;
``tracklet export`` / ``import`` move data between kinds.
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
from tracklet.storage import pg_dump
from tracklet.storage.blobs import open_blob_store
from tracklet.storage.secret import SECRET_FILE

DB_FILE = "tracklet.db"
PG_FILE = "tracklet.pgdump"
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
        raise Unsupported("tracklet backup copies a SQLite database file or a PostgreSQL "
                          "database; use `tracklet export` for a logical backup of others")
    return Path(url.removeprefix("sqlite:///"))


def backup(settings: Settings, target: Path) -> BackupReport:
    """Back the deployment ``settings`` names up into the folder ``target``."""
    report = BackupReport()
    if pg_dump.is_postgresql(settings.db_url):
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        report.db_bytes = pg_dump.dump(settings.db_url, target / PG_FILE)
        (target / DB_FILE).unlink(missing_ok=True)  # a SQLite backup here before
        database = PG_FILE
    else:
        _sqlite_backup(_sqlite_path(settings), target, report)
        (target / PG_FILE).unlink(missing_ok=True)
        database = DB_FILE
    _copy_blobs(settings, target, report)
    secret = settings.resolved_data_dir / SECRET_FILE
    if secret.exists():
        shutil.copyfile(secret, target / SECRET_FILE)
        os.chmod(target / SECRET_FILE, 0o600)
        report.secret = True
    (target / MANIFEST).write_text(json.dumps({
        "format": "tracklet-backup", "version": 1, "created_at": time.time(),
        "database": database, "blobs": BLOBS, "secret": report.secret}, indent=1))
    return report


def _sqlite_backup(source: Path, target: Path, report: BackupReport) -> None:
    if not source.exists():
        raise InvalidInput(f"no database at {source} to back up")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def _copy_blobs(settings: Settings, target: Path, report: BackupReport) -> None:
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


def restore(settings: Settings, source: Path) -> BackupReport:
    """Restore the backup in ``source`` into the (empty) deployment ``settings`` names:
    the blobs and the secret first, the database last, so a deployment with a database is
    a complete one."""
    if not (source / MANIFEST).exists():
        raise InvalidInput(f"{source} is not a tracklet backup (no {MANIFEST})")
    database = str(json.loads((source / MANIFEST).read_text()).get("database", DB_FILE))
    if database not in (DB_FILE, PG_FILE) or not (source / database).exists():
        raise InvalidInput(f"{source} is not a complete tracklet backup (no {database})")
    postgres = pg_dump.is_postgresql(settings.db_url)
    if (database == PG_FILE) != postgres:
        kind = "PostgreSQL" if database == PG_FILE else "SQLite"
        raise Unsupported(f"this is a backup of a {kind} database and restores into {kind}; "
                          "move data between kinds with `tracklet export` and "
                          "`tracklet import`")
    report = BackupReport()
    if postgres:
        _require_empty(settings.db_url)
        _restore_blobs(settings, source, report)
        _restore_secret(settings, source, report)
        pg_dump.restore(settings.db_url, source / PG_FILE)
        report.db_bytes = (source / PG_FILE).stat().st_size
        return report
    target = _sqlite_path(settings)
    if target.exists() and target.stat().st_size > 0:
        raise Conflict(f"{target} exists: restore into a data folder without a database")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restore")
    shutil.copyfile(source / DB_FILE, tmp)
    os.chmod(tmp, 0o600)
    report.db_bytes = tmp.stat().st_size
    _restore_blobs(settings, source, report)
    _restore_secret(settings, source, report)
    os.replace(tmp, target)
    return report


def _require_empty(url: str) -> None:
    """Refuse a PostgreSQL database that holds any table (a deployment already there)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Conflict("the database holds tables already: restore into an empty database "
                       "(createdb a new one)")


def _restore_blobs(settings: Settings, source: Path, report: BackupReport) -> None:
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


def _restore_secret(settings: Settings, source: Path, report: BackupReport) -> None:
    secret = source / SECRET_FILE
    if secret.exists() and not settings.secret_key:
        settings.resolved_data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        dest = settings.resolved_data_dir / SECRET_FILE
        shutil.copyfile(secret, dest)
        os.chmod(dest, 0o600)
        report.secret = True
