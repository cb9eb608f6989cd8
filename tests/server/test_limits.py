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
            tg.start_soon(call, "/files/e/p/r/file_stream")
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
