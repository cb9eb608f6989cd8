"""Storage: the metadata database and the blob store, opened together from Settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracklet.config import Settings
from tracklet.domain.keys import hash_api_key, key_name, new_api_key, validate_api_key
from tracklet.domain.names import validate_name
from tracklet.domain.records import User
from tracklet.errors import Conflict
from tracklet.storage.blobs import BlobStore, open_blob_store
from tracklet.storage.history.export.cache import ExportReadCache
from tracklet.storage.history.export.files import LocalFiles
from tracklet.storage.history.read.series import SeriesPool
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import upgrade
from tracklet.storage.metadata.run_query import RunListingCache

_SECRET_KEY = "signing_secret"


@dataclass
class Storage:
    """Everything persistent. Built once per process, closed at shutdown."""

    db: Database
    blobs: BlobStore
    cache_dir: Path | None = None
    _secret: bytes | None = field(default=None, repr=False)
    # Derived data this process keeps between requests (history key statistics).
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    # Ordered run listings, so paging through a filtered listing sorts it once.
    run_listings: RunListingCache = field(default_factory=RunListingCache, repr=False)
    # Decoded footers and row groups of history exports: a scan's pages reuse them.
    export_reads: ExportReadCache = field(default_factory=ExportReadCache, repr=False)
    # Threads that decode exports for chart series, started on first use.
    series_pool: SeriesPool = field(default_factory=SeriesPool, repr=False)
    # Local copies of export blobs and the readers of them (which share export_reads).
    files: LocalFiles = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.files = LocalFiles(self.blobs, self.cache_dir, self.export_reads)

    @classmethod
    def open(cls, settings: Settings, migrate: bool = True) -> Storage:
        """Open both stores; run schema migrations first unless ``migrate`` is False."""
        db = Database(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s)
        if migrate:
            upgrade(db)
        blobs = open_blob_store(
            settings.blobs_url, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
        return cls(db=db, blobs=blobs, cache_dir=settings.resolved_data_dir / "cache")

    def signing_secret(self) -> bytes:
        """The HMAC key for signed URLs, shared by every server process through the DB."""
        if self._secret is None:
            with self.db.write() as conn:
                value = accounts.get_setting(conn, _SECRET_KEY)
                if value is None:
                    # Another process may be creating it right now: the first one wins.
                    value = accounts.setdefault_setting(conn, _SECRET_KEY, secrets.token_hex(32))
            self._secret = bytes.fromhex(value)
        return self._secret

    def create_user(
        self, username: str, admin: bool = False, key: str | None = None,
        email: str | None = None,
    ) -> tuple[User, str]:
        """Create a user (or reuse an existing one) and register an API key for them.

        With ``key`` given that exact key is registered (for automation); otherwise a new
        random key is generated. Returns the user and the key.
        """
        validate_name("user", username)
        key = validate_api_key(key) if key else new_api_key()
        for attempt in (1, 2):
            try:
                with self.db.write() as conn:
                    user = accounts.get_user_by_name(conn, username)
                    if user is None:
                        user = accounts.create_user(conn, username, admin=admin, email=email)
                    accounts.add_api_key(conn, user.id, hash_api_key(key), key_name(key))
                return user, key
            except Conflict:
                # Another process created the user at the same moment; now it is there.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def bootstrap_admin(self, key: str | None) -> tuple[User, str] | None:
        """On an empty database create the admin user; with ``key``, make sure it is registered.

        Returns (user, key) when a key was created or registered now, else None.
        """
        with self.db.read() as conn:
            empty = accounts.count_users(conn) == 0
            admin = accounts.get_user_by_name(conn, "admin")
        if empty or (key and admin is not None):
            if not empty and key and admin is not None:
                with self.db.read() as conn:
                    if accounts.user_by_key_hash(conn, hash_api_key(key)) is not None:
                        return None
            return self.create_user("admin", admin=True, key=key)
        return None

    def close(self) -> None:
        """Release database connections, blob-store clients and reader threads."""
        self.series_pool.close()
        self.db.dispose()
        self.blobs.close()
