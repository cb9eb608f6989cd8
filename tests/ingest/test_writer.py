"""The group-commit writer, against a real store on every metadata backend: many requests
per transaction, each acknowledged only once committed, failures isolated, the queue
bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest

from tracklet.domain.records import RunFields, User
from tracklet.errors import NotFound, Unavailable
from tracklet.ingest.filestream import StreamRequest, parse_file_stream
from tracklet.ingest.runs import UpsertRequest, upsert_run
from tracklet.ingest.writer import GroupWriter
from tracklet.storage import Storage
from tracklet.storage.history.live.read import history_counts, history_lines
from tracklet.storage.metadata import runs as run_repo


def _run(storage: Storage, user: User, name: str) -> None:
    upsert_run(storage, user, UpsertRequest(None, name, "proj", None, RunFields()))


def _request(name: str, offset: int, n: int, tag: str = "v") -> StreamRequest:
    lines = [orjson.dumps({"_step": offset + i, tag: offset + i}).decode() for i in range(n)]
    payload: dict[str, Any] = {"files": {"wandb-history.jsonl": {"offset": offset,
                                                                 "content": lines}}}
    return StreamRequest("alice", "proj", name, parse_file_stream(payload))


def _stored(storage: Storage, name: str) -> tuple[list[str], int, int | None]:
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", name)
        return history_lines(conn, run.id), run.history_line_count, run.last_step


@contextmanager
def _writes_held(storage: Storage) -> Iterator[None]:
    """Keep the writer from committing history while the block runs."""
    with storage.db.write() as conn:
        if not storage.db.is_sqlite:
            # PostgreSQL writers do not queue behind an open write transaction as SQLite's
            # do; a table lock that lets reads through makes them wait the same way.
            conn.exec_driver_sql("LOCK TABLE history_chunks IN EXCLUSIVE MODE")
        yield


def _poison_history(storage: Storage) -> None:
    """A real database-side refusal of history rows holding 'poison' (no mocking)."""
    with storage.db.write() as conn:
        if storage.db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON history_chunks "
                "WHEN NEW.data LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF strpos(NEW.data, 'poison') > 0 THEN RAISE EXCEPTION 'poisoned row'; END IF; "
            "RETURN NEW; END $$")
        conn.exec_driver_sql("CREATE TRIGGER poison BEFORE INSERT ON history_chunks "
                             "FOR EACH ROW EXECUTE FUNCTION poison()")


async def _submit_all(writer: GroupWriter, requests: list[StreamRequest]) -> list[Any]:
    return await asyncio.gather(*(writer.submit(r) for r in requests), return_exceptions=True)


def test_concurrent_requests_are_grouped_and_all_stored(storage: Storage, user: User) -> None:
    names = [f"run{i:05d}" for i in range(8)]
    for name in names:
        _run(storage, user, name)
    writer = GroupWriter(storage)
    try:
        # 8 runs x 25 requests of 10 lines, all in flight at once (offsets contiguous per run).
        requests = [_request(name, k * 10, 10) for k in range(25) for name in names]
        outcomes = asyncio.run(_submit_all(writer, requests))
    finally:
        writer.close()
    assert all(not isinstance(o, BaseException) and not o.stopped for o in outcomes)
    assert writer.batches < len(requests)  # grouped, not one transaction per request
    for name in names:
        lines, count, last = _stored(storage, name)
        assert [orjson.loads(x)["v"] for x in lines] == list(range(250))
        assert (count, last) == (250, 249)


def test_missing_run_fails_alone(storage: Storage, user: User) -> None:
    _run(storage, user, "present1")
    writer = GroupWriter(storage)
    try:
        outcomes = asyncio.run(_submit_all(writer, [
            _request("present1", 0, 5), _request("absent01", 0, 5), _request("present1", 5, 5)]))
    finally:
        writer.close()
    assert isinstance(outcomes[1], NotFound)
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[2], BaseException)
    assert _stored(storage, "present1")[1:] == (10, 9)


def test_database_failure_in_one_member_keeps_the_others(storage: Storage, user: User) -> None:
    for name in ("good0001", "bad00001", "good0002"):
        _run(storage, user, name)
    _poison_history(storage)
    writer = GroupWriter(storage)
    loop = asyncio.new_event_loop()
    try:
        with _writes_held(storage):  # the writer blocks on its first batch meanwhile

            async def queue_up() -> list[asyncio.Future[Any]]:
                first = asyncio.ensure_future(writer.submit(_request("good0001", 0, 5)))
                await asyncio.sleep(0.2)  # the writer took it and waits for the lock
                rest = [asyncio.ensure_future(writer.submit(r)) for r in (
                    _request("good0001", 5, 5), _request("bad00001", 0, 5, tag="poison"),
                    _request("good0002", 0, 5))]
                await asyncio.sleep(0.1)
                return [first, *rest]

            tasks = loop.run_until_complete(queue_up())
        outcomes = loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    finally:
        loop.close()
        writer.close()
    assert writer.batches >= 3  # the 3 queued ones failed together, then went one by one
    assert isinstance(outcomes[2], Exception)
    assert [isinstance(o, BaseException) for o in outcomes] == [False, False, True, False]
    assert _stored(storage, "good0001")[1:] == (10, 9)
    assert _stored(storage, "good0002")[1:] == (5, 4)
    assert _stored(storage, "bad00001") == ([], 0, None)  # nothing half-written


def test_retried_request_is_stored_once(storage: Storage, user: User) -> None:
    _run(storage, user, "retried1")
    writer = GroupWriter(storage)
    try:
        same = _request("retried1", 0, 20)
        asyncio.run(_submit_all(writer, [same, same, _request("retried1", 20, 5), same]))
    finally:
        writer.close()
    lines, count, last = _stored(storage, "retried1")
    assert [orjson.loads(x)["v"] for x in lines] == list(range(25))
    assert (count, last) == (25, 24)
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "retried1")
        assert history_counts(conn, [run.id]) == {run.id: 25}


def test_full_queue_answers_unavailable_instead_of_queueing(storage: Storage, user: User) -> None:
    _run(storage, user, "queued01")
    writer = GroupWriter(storage, max_pending=2)
    try:
        with _writes_held(storage):  # the writer cannot commit while this is held

            async def go() -> list[Any]:
                first = [asyncio.ensure_future(writer.submit(_request("queued01", k * 5, 5)))
                         for k in range(2)]
                await asyncio.sleep(0.1)
                with pytest.raises(Unavailable) as info:
                    await writer.submit(_request("queued01", 10, 5))
                assert info.value.retry_after >= 1
                return first

            loop = asyncio.new_event_loop()
            pending = loop.run_until_complete(go())
        outcomes = loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    finally:
        writer.close()
    assert not any(isinstance(o, BaseException) for o in outcomes)
    assert _stored(storage, "queued01")[1:] == (10, 9)
