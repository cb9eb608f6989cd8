"""Shared-mode file_stream (several writers on one run, each counting lines from 0): rows
merge by step, retries change nothing, console lines of each writer are kept and rewritten
in place, summaries merge, in one batch or many; on every metadata backend."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from tracklet.domain.records import RunFields, User
from tracklet.ingest.filestream import StreamRequest, apply_batch, parse_file_stream
from tracklet.ingest.runs import UpsertRequest, upsert_run
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live.read import console_lines, history_lines
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import stream_writers
from tracklet.storage.run_deletion import delete_run


def _request(writer: str, payload: dict[str, Any]) -> StreamRequest:
    return StreamRequest("alice", "proj", "shared01", parse_file_stream(payload), writer=writer)


def _rows(writer_key: str, start: int, n: int, step: bool = True) -> dict[str, Any]:
    lines = [orjson.dumps({**({"_step": i} if step else {}), writer_key: i}).decode()
             for i in range(start, start + n)]
    return {"wandb-history.jsonl": {"offset": start, "content": lines}}


def _stored(storage: Storage) -> tuple[dict[int, dict[str, Any]], list[str], dict[str, Any]]:
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "shared01")
        rows = [loads(t) for t in history_lines(conn, run.id)]
        console = [t for _, t in console_lines(conn, run.id)]
    return {r["_step"]: r for r in rows}, console, loads(run.summary or "{}")


def test_writers_merge_by_step_and_retries_change_nothing(storage: Storage,
                                                          user: User) -> None:
    upsert_run(storage, user, UpsertRequest(None, "shared01", "proj", None, RunFields()))
    a = _request("writer-a", {"files": {**_rows("a", 0, 3),
                                        "output.log": {"offset": 0, "content": ["a0", "a1"]},
                                        "wandb-summary.json": {"offset": 0,
                                                               "content": ['{"a": 1}']}}})
    b = _request("writer-b", {"files": {**_rows("b", 0, 5),
                                        "output.log": {"offset": 0, "content": ["b0"]},
                                        "wandb-summary.json": {"offset": 0,
                                                               "content": ['{"b": 2}']}}})
    # One batch holding both writers and a retry of the first, then the retries alone.
    assert all(not isinstance(o, Exception) for o in apply_batch(storage, [a, b, a]))
    apply_batch(storage, [b])
    apply_batch(storage, [a])
    rows, console, summary = _stored(storage)
    assert sorted(rows) == [0, 1, 2, 3, 4]
    assert [rows[s].get("a") for s in range(5)] == [0, 1, 2, None, None]
    assert [rows[s]["b"] for s in range(5)] == [0, 1, 2, 3, 4]
    assert sorted(console) == ["a0", "a1", "b0"]
    assert summary == {"a": 1, "b": 2}
    # The first writer goes on: its next lines and a progress bar rewriting its last line.
    apply_batch(storage, [_request("writer-a", {"files": {
        **_rows("a", 3, 3), "output.log": {"offset": 1, "content": ["a1 done", "a2"]}}})])
    rows, console, _ = _stored(storage)
    assert sorted(rows) == [0, 1, 2, 3, 4, 5]
    assert [rows[s]["a"] for s in range(6)] == list(range(6))
    assert [rows[s].get("b") for s in range(6)] == [0, 1, 2, 3, 4, None]
    assert sorted(console) == ["a0", "a1 done", "a2", "b0"]
    # Deleting the run forgets its writers too.
    with storage.db.read() as conn:
        run_id = run_repo.get_run_by_path(conn, "alice", "proj", "shared01").id
    delete_run(storage, run_id)
    with storage.db.read() as conn:
        left = conn.execute(select(stream_writers).where(stream_writers.c.run_id == run_id))
        assert left.first() is None


def test_rows_without_steps_get_the_runs_next_step(storage: Storage, user: User) -> None:
    upsert_run(storage, user, UpsertRequest(None, "shared01", "proj", None, RunFields()))
    apply_batch(storage, [_request("w1", {"files": _rows("x", 0, 2, step=False)}),
                          _request("w2", {"files": _rows("y", 0, 2, step=False)})])
    apply_batch(storage, [_request("w1", {"files": _rows("x", 0, 2, step=False)})])
    rows, _, _ = _stored(storage)
    assert sorted(rows) == [0, 1, 2, 3]
    assert [sorted(k for k in rows[s] if k != "_step") for s in range(4)] == [
        ["x"], ["x"], ["y"], ["y"]]
