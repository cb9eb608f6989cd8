"""The metadata repository behaves identically on SQLite and PostgreSQL.

Every test gets a store migrated from an empty database (the ``storage`` fixture), once per
backend.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select

from tracklet.config import Settings
from tracklet.domain.keys import hash_api_key
from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.errors import Conflict, NotFound
from tracklet.storage import Storage
from tracklet.storage.history.live.read import (
    console_lines,
    count_lines,
    event_lines,
    history_counts,
    history_lines,
    history_tail,
    iter_history_lines,
    iter_rows,
    tail,
)
from tracklet.storage.history.live.write import write_console, write_events, write_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.migrate import alembic_config, upgrade
from tracklet.storage.metadata.tables import console, events, history_chunks, metadata, runs
from tracklet.storage.run_deletion import delete_run, deleted_run_entity

ADMIN_KEY = "local-" + "ab12" * 10 + "cdef"


def _project(store: Storage, entity: str = "alice", name: str = "proj") -> Project:
    with store.db.write() as conn:
        return accounts.ensure_project(conn, accounts.ensure_entity(conn, entity), name)


def _new_run(store: Storage, name: str = "run1", **fields: Any) -> int:
    project = _project(store)
    with store.db.write() as conn:
        return run_repo.create_run(conn, project, name, None, RunFields(**fields)).id


# -- migrations ---------------------------------------------------------------------------


def test_migrations_from_empty_reach_head_and_match_the_tables(storage: Storage) -> None:
    head = ScriptDirectory.from_config(alembic_config(storage.db)).get_current_head()
    with storage.db.read() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head
        # What the migrations built is exactly what tables.py declares.
        assert compare_metadata(ctx, metadata) == []
        assert set(inspect(conn).get_table_names()) >= set(metadata.tables)


def test_upgrade_again_is_a_no_op(storage: Storage) -> None:
    rid = _new_run(storage)
    upgrade(storage.db)
    with storage.db.read() as conn:
        assert run_repo.get_run_by_id(conn, rid) is not None


def test_concurrent_upgrades_of_an_empty_database(storage_settings: Settings) -> None:
    """Several server processes starting at once against one empty database all succeed."""
    # Processes, not threads: Alembic keeps its migration context in module globals.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tracklet", "db", "upgrade",
             "--data-dir", str(storage_settings.data_dir), "--db", storage_settings.db_url,
             "--blobs", "memory://"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    store = Storage.open(storage_settings, migrate=False)
    try:
        assert _new_run(store) > 0
    finally:
        store.close()


# -- accounts -----------------------------------------------------------------------------


def test_users_keys_and_entities(storage: Storage) -> None:
    with storage.db.write() as conn:
        alice = accounts.create_user(conn, "alice", admin=True, email="a@example.com")
        bob = accounts.create_user(conn, "bob", admin=False)
        accounts.add_api_key(conn, alice.id, "h" * 64, "laptop")
        accounts.add_api_key(conn, alice.id, "h" * 64, "laptop")  # idempotent for the same user
        # Names are per user: bob may have a "laptop" too, alice not a second one.
        accounts.add_api_key(conn, bob.id, "b" * 64, "laptop")
        with pytest.raises(Conflict, match="already a key named"):
            accounts.add_api_key(conn, alice.id, "a" * 64, "laptop")
        assert accounts.free_key_name(conn, alice.id, "laptop") == "laptop-2"
    assert alice.admin is True and bob.admin is False
    assert (alice.username, alice.entity, alice.email) == ("alice", "alice", "a@example.com")
    with storage.db.write() as conn, pytest.raises(Conflict):
        accounts.add_api_key(conn, bob.id, "h" * 64, "desktop")
    with storage.db.write() as conn, pytest.raises(Conflict):
        accounts.create_user(conn, "alice", admin=False)
    with storage.db.read() as conn:
        assert accounts.count_users(conn) == 2
        assert accounts.user_by_key_hash(conn, "h" * 64) == alice
        assert accounts.user_by_key_hash(conn, "x" * 64) is None
        assert accounts.get_user_by_name(conn, "bob") == bob
        assert accounts.get_user_by_name(conn, "carol") is None
        assert accounts.get_user(conn, bob.id) == bob
        entity = accounts.get_entity(conn, "bob")
        assert (entity.id, entity.is_team) == (bob.entity_id, False)
        with pytest.raises(NotFound):
            accounts.get_entity(conn, "carol")


def test_entities_and_projects_are_created_once(storage: Storage) -> None:
    with storage.db.write() as conn:
        team = accounts.ensure_entity(conn, "team", is_team=True)
        again = accounts.ensure_entity(conn, "team")
        p1 = accounts.ensure_project(conn, team, "p")
        p2 = accounts.ensure_project(conn, team, "p")
    assert team == again and team.is_team is True
    assert p1 == p2 and (p1.entity, p1.name) == ("team", "p")
    with storage.db.read() as conn:
        assert accounts.find_project(conn, "team", "p") == p1
        assert accounts.find_project(conn, "team", "q") is None
        assert accounts.get_project_by_id(conn, p1.id) == p1


def test_projects_are_paged_by_id(storage: Storage) -> None:
    with storage.db.write() as conn:
        entity = accounts.ensure_entity(conn, "e")
        made = [accounts.ensure_project(conn, entity, f"p{i:02d}") for i in range(7)]
    with storage.db.read() as conn:
        first = accounts.list_projects(conn, "e", limit=3)
        rest = accounts.list_projects(conn, "e", after_id=first[-1].id)
    assert first + rest == made


def test_server_settings_are_replaced(storage: Storage) -> None:
    with storage.db.write() as conn:
        assert accounts.get_setting(conn, "k") is None
        accounts.set_setting(conn, "k", "one")
        accounts.set_setting(conn, "k", "two")
    with storage.db.read() as conn:
        assert accounts.get_setting(conn, "k") == "two"


def test_signing_secret_is_shared_by_every_process(storage_settings: Settings) -> None:
    stores = [Storage.open(storage_settings) for _ in range(2)]
    secrets = [s.signing_secret() for s in stores]
    assert secrets[0] == secrets[1] and len(secrets[0]) == 32
    for s in stores:
        s.close()


def test_concurrent_first_use_creates_one_project_user_and_secret(
    storage: Storage, storage_settings: Settings
) -> None:
    """Server processes racing to create the same project, admin or secret all succeed."""
    stores = [Storage.open(storage_settings, migrate=False) for _ in range(4)]
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(store: Storage) -> None:
        try:
            barrier.wait()
            with store.db.write() as conn:
                project = accounts.ensure_project(
                    conn, accounts.ensure_entity(conn, "racer"), "shared")
            barrier.wait()
            user, _ = store.create_user("admin", admin=True, key=ADMIN_KEY)
            results.append((project.id, store.signing_secret(), user.id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(set(results)) == 1
    with storage.db.read() as conn:
        assert accounts.count_users(conn) == 1
        admin = accounts.user_by_key_hash(conn, hash_api_key(storage.secret.pepper, ADMIN_KEY))
        assert admin is not None and admin.username == "admin"
    for s in stores:
        s.close()


# -- runs and run files ----------------------------------------------------------------------


def test_run_round_trip_keeps_the_text_the_client_sent(storage: Storage) -> None:
    config = '{"lr": {"value": NaN}, "big": {"value": 9007199254740993}}'
    summary = '{"loss": Infinity, "_step": 3}'
    rid = _new_run(storage, config=config, summary=summary, tags=("a", "b"), notes="n",
                   group="g", job_type="train", host="h", program="p.py", commit="abc")
    with storage.db.read() as conn:
        run = run_repo.get_run_by_id(conn, rid)
        by_path = run_repo.get_run_by_path(conn, "alice", "proj", "run1")
    assert run is not None and run == by_path
    assert (run.config, run.summary, run.tags) == (config, summary, ("a", "b"))
    assert (run.state, run.group, run.job_type, run.commit) == ("running", "g", "train", "abc")
    assert run.display_name and run.display_name.endswith("-1")
    assert run.history_line_count == 0 and run.last_step is None


def test_partial_updates_leave_other_fields_alone(storage: Storage) -> None:
    rid = _new_run(storage, config="{}", notes="keep me")
    with storage.db.write() as conn:
        run = run_repo.update_run(conn, rid, RunFields(tags=("x",), state="finished"))
        run_repo.set_run_columns(conn, rid, history_line_count=2**40, last_step=2**53 + 1,
                                 exit_code=3)
    assert run.notes == "keep me" and run.tags == ("x",) and run.state == "finished"
    with storage.db.read() as conn:
        run = run_repo.get_run_by_id(conn, rid)  # type: ignore[assignment]
    assert (run.history_line_count, run.last_step, run.exit_code) == (2**40, 2**53 + 1, 3)
    with storage.db.write() as conn, pytest.raises(NotFound):
        run_repo.update_run(conn, 10**9, RunFields(notes="x"))


def test_run_lookup_listing_and_crash_marking(storage: Storage) -> None:
    project = _project(storage)
    with storage.db.write() as conn:
        old = run_repo.create_run(conn, project, "old", None, RunFields())
        new = run_repo.create_run(conn, project, None, None, RunFields(display_name="d"))
        run_repo.set_run_columns(conn, old.id, heartbeat_at=1.0)
        assert run_repo.mark_crashed(conn, heartbeat_before=100.0) == 1
    assert len(new.name) == 8 and new.display_name == "d"
    with storage.db.read() as conn:
        assert run_repo.count_runs(conn, project.id) == 2
        assert run_repo.find_run(conn, project.id, "old").state == "crashed"  # type: ignore[union-attr]
        assert run_repo.find_run(conn, project.id, new.name).state == "running"  # type: ignore[union-attr]
        assert run_repo.find_run_by_path(conn, "alice", "proj", "nope") is None
        with pytest.raises(NotFound):
            run_repo.get_run_by_path(conn, "alice", "proj", "nope")


def test_run_files_register_store_and_page(storage: Storage) -> None:
    rid = _new_run(storage)
    names = [f"media/f{i}.png" for i in range(5)]
    with storage.db.write() as conn:
        run_repo.register_run_files(conn, rid, [*names, names[0]])
        run_repo.register_run_files(conn, rid, names)  # again: no duplicates
        for i, n in enumerate(names[:4]):
            run_repo.store_run_file(conn, rid, n, f"cas/{i}", "md5", i, "image/png")
        run_repo.store_run_file(conn, rid, names[0], "cas/new", "md5b", 99, None)
    with storage.db.read() as conn:
        stored = run_repo.list_run_files(conn, rid)
        everything = run_repo.list_run_files(conn, rid, stored_only=False)
        page = run_repo.list_run_files(conn, rid, after=names[1], limit=1)
        picked = run_repo.list_run_files(conn, rid, names=[names[2], "other"])
        first = run_repo.get_run_file(conn, rid, names[0])
        assert run_repo.count_run_files(conn, rid) == 4
        assert run_repo.get_run_file(conn, rid, "nope") is None
    assert [f.name for f in stored] == names[:4]
    assert [f.name for f in everything] == names
    assert everything[4].uploaded is False and everything[4].blob_key is None
    assert [f.name for f in page] == [names[2]] and [f.name for f in picked] == [names[2]]
    assert first is not None
    assert (first.blob_key, first.md5, first.size, first.mimetype) == ("cas/new", "md5b", 99, None)
    assert first.uploaded is True


def test_delete_run_removes_its_rows(storage: Storage) -> None:
    rid = _new_run(storage)
    keep = _new_run(storage, name="run2")
    for r in (rid, keep):
        with storage.db.write() as conn:
            write_history(conn, r, StreamChunk(0, ('{"_step": 0}',)))
            write_events(conn, r, StreamChunk(0, ("{}",)))
            write_console(conn, r, StreamChunk(0, ("hi",)))
            run_repo.store_run_file(conn, r, "f", "cas/x", "m", 1, None)
    with storage.db.write() as conn:
        run_repo.delete_run(conn, rid)
    with storage.db.read() as conn:
        assert run_repo.get_run_by_id(conn, rid) is None
        assert history_counts(conn, [rid, keep]) == {keep: 1}
        for table in (events, console):
            assert count_lines(conn, table, [rid, keep]) == {keep: 1}
        assert run_repo.count_run_files(conn, rid) == 0
        assert run_repo.count_run_files(conn, keep) == 1


# -- the live history tier --------------------------------------------------------------------


def _lines(steps: range, tag: str = "") -> tuple[str, ...]:
    return tuple(orjson.dumps({"_step": s, "loss": 1 / (s + 1), "tag": tag}).decode()
                 for s in steps)


def test_history_upserts_by_offset(storage: Storage) -> None:
    rid = _new_run(storage)
    with storage.db.write() as conn:
        assert write_history(conn, rid, StreamChunk(0, _lines(range(0, 5)))) == (5, 4)
        # A retried request with the same offset changes nothing...
        assert write_history(conn, rid, StreamChunk(0, _lines(range(0, 5)))) == (5, 4)
        # ...an overlapping one overwrites by index, and the rest follows on.
        assert write_history(conn, rid, StreamChunk(3, _lines(range(3, 8), "v2"))) == (8, 7)
    with storage.db.read() as conn:
        lines = history_lines(conn, rid)
        assert lines == list(_lines(range(0, 3)) + _lines(range(3, 8), "v2"))
        assert history_lines(conn, rid, min_step=2, max_step=4) == lines[2:4]
        assert history_lines(conn, rid, limit=2) == lines[:2]
        assert list(iter_history_lines(conn, rid)) == lines
        assert history_tail(conn, rid, 2) == lines[-2:]
        assert history_counts(conn, [rid]) == {rid: 8}


def test_history_keeps_extended_json_and_64_bit_steps(storage: Storage) -> None:
    rid = _new_run(storage)
    lines = ('{"_step": 4611686018427387904, "x": NaN}', '{"x": -Infinity}', "not json")
    with storage.db.write() as conn:
        assert write_history(conn, rid, StreamChunk(2**33, lines)) == (
            2**33 + 3, 4611686018427387904)
    with storage.db.read() as conn:
        assert history_lines(conn, rid) == list(lines)
        stored = [(s, ln) for s, ln, _ in iter_rows(conn, rid)]
        top = conn.execute(select(history_chunks.c.last_line)
                           .where(history_chunks.c.run_id == rid)).scalar_one()
    # Only the first line has a step: the others are kept but are not rows of the read path.
    assert stored == [(4611686018427387904, 2**33)]
    assert top == 2**33 + 2


def test_events_and_console_upsert_by_offset(storage: Storage) -> None:
    rid = _new_run(storage)
    with storage.db.write() as conn:
        assert write_events(conn, rid, StreamChunk(0, ('{"cpu": 1}', '{"cpu": 2}'))) == 2
        assert write_events(conn, rid, StreamChunk(1, ('{"cpu": 3}',))) == 2
        assert write_console(conn, rid, StreamChunk(0, ("a", "progress 10%"))) == 2
        # The SDK rewrites the last console line (carriage returns) at the same offset.
        assert write_console(conn, rid, StreamChunk(1, ("progress 100%", "done"))) == 3
    with storage.db.read() as conn:
        assert event_lines(conn, rid) == ['{"cpu": 1}', '{"cpu": 3}']
        assert tail(conn, events, rid, 1) == ['{"cpu": 3}']
        assert console_lines(conn, rid) == [(0, "a"), (1, "progress 100%"), (2, "done")]
        assert console_lines(conn, rid, after=0, limit=1) == [(1, "progress 100%")]


# -- transactions -----------------------------------------------------------------------------


def test_a_failed_write_leaves_nothing_behind(storage: Storage) -> None:
    rid = _new_run(storage)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), storage.db.write() as conn:
        write_history(conn, rid, StreamChunk(0, _lines(range(3))))
        run_repo.set_run_columns(conn, rid, history_line_count=3)
        raise Boom
    with storage.db.read() as conn:
        assert history_lines(conn, rid) == []
        assert run_repo.get_run_by_id(conn, rid).history_line_count == 0  # type: ignore[union-attr]


def test_run_write_returns_the_function_result(storage: Storage) -> None:
    project = _project(storage)
    make: Callable[[Connection], int] = lambda conn: run_repo.create_run(  # noqa: E731
        conn, project, "viafn", None, RunFields()).id
    rid = storage.db.run_write(make)
    with storage.db.read() as conn:
        assert run_repo.get_run_by_id(conn, rid).name == "viafn"  # type: ignore[union-attr]


def test_readers_do_not_see_uncommitted_writes(storage: Storage) -> None:
    rid = _new_run(storage)
    seen: list[list[str]] = []
    with storage.db.write() as conn:
        write_history(conn, rid, StreamChunk(0, _lines(range(2))))

        def read() -> None:
            with storage.db.read() as rconn:
                seen.append(history_lines(rconn, rid))

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=30)
    assert seen == [[]]
    with storage.db.read() as conn:
        assert len(history_lines(conn, rid)) == 2


def test_concurrent_writers_to_different_runs_all_land(storage: Storage) -> None:
    rids = [_new_run(storage, name=f"w{i}") for i in range(4)]
    errors: list[BaseException] = []

    def writer(rid: int) -> None:
        try:
            for offset in range(0, 50, 5):
                with storage.db.write() as conn:
                    write_history(conn, rid, StreamChunk(offset,
                                                              _lines(range(offset, offset + 5))))
                    run_repo.set_run_columns(conn, rid, history_line_count=offset + 5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(r,)) for r in rids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with storage.db.read() as conn:
        assert history_counts(conn, rids) == dict.fromkeys(rids, 50)
        counts = conn.execute(select(runs.c.history_line_count).where(runs.c.id.in_(rids)))
        assert [c for (c,) in counts] == [50] * 4


def test_nul_characters_are_stored_the_same_on_every_backend(storage: Storage) -> None:
    """PostgreSQL text cannot hold U+0000; a program printing one must not break the run."""
    rid = _new_run(storage)
    with storage.db.write() as conn:
        write_console(conn, rid, StreamChunk(0, ("before\x00after",)))
        write_history(conn, rid, StreamChunk(0, ('{"_step": 0, "s": "a\x00b"}',)))
    with storage.db.read() as conn:
        assert console_lines(conn, rid) == [(0, "before\ufffdafter")]
        assert history_lines(conn, rid) == ['{"_step": 0, "s": "a\ufffdb"}']


def test_a_deleted_runs_id_is_never_given_out_again(storage: Storage) -> None:
    first = _new_run(storage, name="a")
    last = _new_run(storage, name="b")
    delete_run(storage, last)
    assert deleted_run_entity(storage, last) == "alice"
    assert deleted_run_entity(storage, first) is None
    newer = _new_run(storage, name="c")
    assert newer > last
    with storage.db.read() as conn:
        assert run_repo.get_run_by_id(conn, last) is None
