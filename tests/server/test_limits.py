"""Load shedding: requests past the limit get 429 + Retry-After at once; others are served."""

from __future__ import annotations

import anyio
import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tracklet.server.limits import ConcurrencyLimit

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _app(gate: anyio.Event) -> ASGIApp:
    """API paths wait for ``gate``; everything else answers at once."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != "/health":
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_requests_past_the_limit_are_shed_and_health_is_not() -> None:
    gate = anyio.Event()
    app = ConcurrencyLimit(_app(gate), limit=2)
    results: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:

        async def call(path: str) -> None:
            results.append(await client.post(path))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "/graphql")
            tg.start_soon(call, "/storage/x")
            await anyio.wait_all_tasks_blocked()
            assert app.in_flight == 2
            shed = await client.post("/graphql")
            health = await client.get("/health")
            gate.set()
        after = await client.post("/graphql")
    assert shed.status_code == 429
    assert shed.headers["retry-after"] == "1"
    assert "busy" in shed.json()["errors"][0]["message"]
    assert health.status_code == 200
    assert sorted(r.status_code for r in results) == [200, 200]
    assert after.status_code == 200
    assert app.in_flight == 0


async def test_file_stream_has_its_own_pool() -> None:
    """Many live runs streaming at once are not shed by the general limit, and do not
    crowd out the other API requests; past their own limit they are shed too."""
    gate = anyio.Event()
    app = ConcurrencyLimit(_app(gate), limit=1, stream_limit=3)
    results: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:

        async def call(path: str) -> None:
            results.append(await client.post(path))

        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(call, f"/files/e/p/r{i}/file_stream")
            tg.start_soon(call, "/graphql")
            await anyio.wait_all_tasks_blocked()
            assert (app.streams_in_flight, app.in_flight) == (3, 1)
            shed_stream = await client.post("/files/e/p/r9/file_stream")
            shed_api = await client.post("/files/e/p/r9/upload")
            gate.set()
    assert shed_stream.status_code == 429
    assert shed_api.status_code == 429
    assert [r.status_code for r in results] == [200] * 4
    assert (app.streams_in_flight, app.in_flight) == (0, 0)
