"""``insert_missing`` tells an insert from a skipped duplicate on every backend, and the
callers that decide on its answer (user creation, single-use upload tokens, organizations)
refuse the second attempt."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from tracklet.errors import Conflict
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts, teams, upload_grants
from tracklet.storage.metadata.tables import server_settings, used_upload_tokens
from tracklet.storage.metadata.upsert import insert_missing


def test_first_insert_true_duplicate_false(storage: Storage) -> None:
    with storage.db.write() as conn:
        assert insert_missing(conn, server_settings, {"key": "k", "value": "1"}, keys=("key",))
        assert not insert_missing(conn, server_settings, {"key": "k", "value": "2"},
                                  keys=("key",))
    with storage.db.read() as conn:
        rows = conn.execute(select(server_settings.c.value).where(
            server_settings.c.key == "k")).scalars().all()
    assert rows == ["1"]  # the duplicate changed nothing


def test_duplicate_in_a_later_transaction_is_reported(storage: Storage) -> None:
    with storage.db.write() as conn:
        assert insert_missing(conn, server_settings, {"key": "k", "value": "1"}, keys=("key",))
    with storage.db.write() as conn:
        assert not insert_missing(conn, server_settings, {"key": "k", "value": "1"},
                                  keys=("key",))


def test_concurrent_inserts_of_one_key_report_one_insert(storage: Storage) -> None:
    answers: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def insert() -> None:
        start.wait()
        with storage.db.write() as conn:
            inserted = insert_missing(conn, used_upload_tokens,
                                      {"nonce": "n", "digest": "d",
                                       "expires_at": time.time() + 60}, keys=("nonce",))
        with lock:
            answers.append(inserted)

    threads = [threading.Thread(target=insert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False, False, False, True]
    with storage.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(used_upload_tokens)).scalar() == 1


def test_create_user_twice_conflicts(storage: Storage) -> None:
    with storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)
    with pytest.raises(Conflict), storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)


def test_upload_token_is_single_use(storage: Storage) -> None:
    expires = time.time() + 60
    with storage.db.write() as conn:
        assert upload_grants.use_token(conn, "nonce", "aa" * 16, expires) is None
    with storage.db.write() as conn:
        assert upload_grants.use_token(conn, "nonce", "bb" * 16, expires) == "aa" * 16


def test_create_org_twice_conflicts(storage: Storage) -> None:
    with storage.db.write() as conn:
        teams.create_org(conn, "acme")
    with pytest.raises(Conflict), storage.db.write() as conn:
        teams.create_org(conn, "acme")
