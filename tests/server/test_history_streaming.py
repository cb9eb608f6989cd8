"""The streamed history answer ends its read transaction however the client leaves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyarrow as pa
import pytest
from starlette.requests import ClientDisconnect

from tracklet.domain.records import RunFields, StreamChunk, User
from tracklet.server.rest import history
from tracklet.storage import Storage
from tracklet.storage.history.live.write import write_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo


@pytest.fixture
def alice(storage: Storage) -> User:
    with storage.db.write() as conn:
        user = accounts.create_user(conn, "alice", admin=False)
        project = accounts.ensure_project(conn, accounts.ensure_entity(conn, "alice"), "p")
        run = run_repo.create_run(conn, project, "r", None, RunFields())
        write_history(conn, run.id, StreamChunk(
            0, tuple(f'{{"_step": {i}, "x": {i * 0.5}}}' for i in range(3000))))
    return user


def _open_scan(storage: Storage, user: User) -> tuple[history._Scan, list[Any]]:
    scan = history._Scan(storage, user, history.parse_query({"run": "alice/p/r", "keys": "x"}))
    scan.open()
    head, done = scan.take(1)  # a tiny budget: the rest is left to stream
    assert not done
    return scan, head


def _in_use(storage: Storage) -> int:
    return int(storage.db.engine.pool.checkedout())


def test_scan_is_closed_when_the_client_leaves_before_the_body(storage: Storage,
                                                               alice: User) -> None:
    scan, head = _open_scan(storage, alice)
    assert _in_use(storage) == 1
    response = history._ScanResponse(head, scan, history.ARROW_STREAM)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("client gone")

    with pytest.raises(ClientDisconnect):
        asyncio.run(response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send))
    assert _in_use(storage) == 0


def test_scan_streams_to_the_end_and_is_closed(storage: Storage, alice: User) -> None:
    scan, head = _open_scan(storage, alice)
    response = history._ScanResponse(head, scan, history.ARROW_STREAM)
    body = bytearray()

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        body.extend(message.get("body", b""))

    asyncio.run(response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send))
    table = pa.ipc.open_stream(bytes(body)).read_all()
    assert table.column("_step").to_pylist() == list(range(3000))
    for _ in range(100):  # the producer thread closes the scan as it ends
        if _in_use(storage) == 0:
            break
        time.sleep(0.01)
    assert _in_use(storage) == 0
