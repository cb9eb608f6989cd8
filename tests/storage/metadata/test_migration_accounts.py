"""Migration 0011 keeps every key of an existing install working: unnamed and same-named
keys get unique names, plain SHA-256 hashes are re-keyed at the next start, and the
URL-signing secret leaves the database."""

from __future__ import annotations

from sqlalchemy import text

from tracklet.config import Settings
from tracklet.domain.keys import hash_api_key, legacy_key_hash
from tracklet.storage import Storage, credentials
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import downgrade, upgrade

KEYS = ["old-" + c * 44 for c in "abc"]


def test_existing_keys_survive_the_upgrade(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0010")
        with db.write() as c:
            c.execute(text("INSERT INTO entities(id, name, is_team, created_at) "
                           "VALUES (1, 'ann', false, 0)"))
            c.execute(text("INSERT INTO users(id, username, admin, entity_id, created_at) "
                           "VALUES (1, 'ann', false, 1, 0)"))
            for pk, (key, name) in enumerate(zip(KEYS, [None, "old-aaaa", "old-aaaa"],
                                                 strict=True), start=1):
                c.execute(text("INSERT INTO api_keys(id, user_id, key_hash, created_at, name) "
                               "VALUES (:id, 1, :h, 0, :n)"),
                          {"id": pk, "h": legacy_key_hash(key), "n": name})
            c.execute(text("INSERT INTO server_settings(key, value) "
                           "VALUES ('signing_secret', 'ab')"))
        upgrade(db)
        with db.read() as c:
            rows = c.execute(text("SELECT name, hash_scheme FROM api_keys ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [("key-1", "sha256"), ("old-aaaa", "sha256"),
                                                ("old-aaaa-3", "sha256")]
            assert c.execute(text("SELECT count(*) FROM server_settings "
                                  "WHERE key = 'signing_secret'")).scalar_one() == 0
    finally:
        db.dispose()
    storage = Storage.open(storage_settings)  # the first start after the upgrade
    try:
        with storage.db.read() as c:
            hashes = c.execute(text("SELECT key_hash FROM api_keys ORDER BY id")).scalars().all()
        assert hashes == [hash_api_key(storage.secret.pepper, k) for k in KEYS]
        for key in KEYS:
            user = credentials.user_for_key(storage, key)
            assert user is not None and user.username == "ann"
        downgrade(storage.db, "0010")
        with storage.db.read() as c:
            assert c.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 3
    finally:
        storage.close()
