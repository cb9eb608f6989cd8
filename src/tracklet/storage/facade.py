"""Storage: the metadata database and the blob store, opened together from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracklet.config import Settings
from tracklet.domain.keys import (
    hash_api_key,
    key_name,
    new_api_key,
    rekey_legacy_hash,
    validate_api_key,
)
from tracklet.domain.names import validate_name
from tracklet.domain.records import User
from tracklet.errors import Conflict
from tracklet.storage.blobs import BlobStore, open_blob_store
from tracklet.storage.blobs.counted import CountedBlobStore
from tracklet.storage.history.export.cache import ExportReadCache
from tracklet.storage.history.export.files import LocalFiles
from tracklet.storage.history.read.series import SeriesPool
from tracklet.storage.metadata import accounts, audit
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import upgrade
from tracklet.storage.metadata.preflight import check_database_url
from tracklet.storage.metadata.run_query import RunListingCache
from tracklet.storage.secret import (
    FINGERPRINT_SETTING,
    SECRET_FILE,
    ServerSecret,
    check_fingerprint,
    ensure_private_dir,
)


@dataclass
class Storage:
    """Everything persistent. Built once per process, closed at shutdown."""

    db: Database
    blobs: BlobStore
    #: Kept out of the database: see :mod:`tracklet.storage.secret`.
    secret: ServerSecret = field(repr=False)
    cache_dir: Path | None = None
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
        """Open both stores; run schema migrations first unless ``migrate`` is False.

        The data dir is created 0700 and the server secret read (or created); a database
        set up with another secret is refused, and API-key hashes from before keyed hashes
        are re-keyed.
        """
        ensure_private_dir(settings.resolved_data_dir)
        if settings.secret_key:
            secret, where = ServerSecret.from_setting(settings.secret_key), "TRACKLET_SECRET_KEY"
        else:
            secret = ServerSecret.load_or_create(settings.resolved_data_dir)
            where = str(settings.resolved_data_dir / SECRET_FILE)
        # Both stores are checked before anything is written, so a wrong --db or --blobs
        # fails with what was tried and why (StoreUnusable), not a traceback or "busy".
        check_database_url(settings.db_url)
        blobs = CountedBlobStore(open_blob_store(
            settings.blobs_url, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        ))
        db = Database(settings.db_url, busy_timeout_s=settings.db_busy_timeout_s)
        try:
            if migrate:
                upgrade(db)
                with db.write() as conn:
                    check_fingerprint(accounts.setdefault_setting(
                        conn, FINGERPRINT_SETTING, secret.fingerprint), secret, where)
                    accounts.rekey_legacy_hashes(
                        conn, lambda old: rekey_legacy_hash(secret.pepper, old))
        except BaseException:
            db.dispose()
            blobs.close()
            raise
        return cls(db=db, blobs=blobs, secret=secret,
                   cache_dir=settings.resolved_data_dir / "cache")

    def blob_errors(self) -> dict[tuple[str, str], int]:
        """Failures of the blob store since it was opened: (operation, exception class
        name) -> count (empty for a store not opened by :meth:`open`)."""
        return self.blobs.error_counts() if isinstance(self.blobs, CountedBlobStore) else {}

    def signing_secret(self) -> bytes:
        """The HMAC key for signed URLs (derived from the server secret, not in the DB)."""
        return self.secret.signing_key

    def create_user(
        self, username: str, admin: bool = False, key: str | None = None,
        email: str | None = None,
    ) -> tuple[User, str]:
        """Create a user (or reuse an existing one) and register an API key for them.

        With ``key`` given that exact key is registered (for automation); otherwise a new
        random key is generated. The key is named by its non-secret prefix. Returns the user
        and the key.
        """
        validate_name("user", username)
        key = validate_api_key(key) if key else new_api_key()
        for attempt in (1, 2):
            try:
                with self.db.write() as conn:
                    user = accounts.get_user_by_name(conn, username)
                    if user is None:
                        user = accounts.create_user(conn, username, admin=admin, email=email)
                        audit.record(conn, None, "user.create", username,
                                     "admin" if admin else None)
                    key_hash = hash_api_key(self.secret.pepper, key)
                    if accounts.user_by_key_hash(conn, key_hash) is None:
                        name = accounts.free_key_name(conn, user.id, key_name(key))
                    else:  # registered again: add_api_key checks it is this user's
                        name = key_name(key)
                    accounts.add_api_key(conn, user.id, key_hash, name)
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
                    if accounts.user_by_key_hash(
                            conn, hash_api_key(self.secret.pepper, key)) is not None:
                        return None
            return self.create_user("admin", admin=True, key=key)
        return None

    def close(self) -> None:
        """Release database connections, blob-store clients and reader threads."""
        self.series_pool.close()
        self.db.dispose()
        self.blobs.close()
