"""API answers may be gzipped; stored file bytes are served exactly as stored."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.server.compression import ApiGZip

pytestmark = pytest.mark.anyio
BIG = b"{" + b'"k": "v", ' * 2000 + b"}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _big(_request: Request) -> Response:
    return Response(BIG, media_type="application/json")


@pytest.mark.parametrize(("path", "encoded"), [("/graphql", True), ("/storage/file/x", False)])
async def test_only_api_answers_are_compressed(path: str, encoded: bool) -> None:
    app = ApiGZip(Starlette(routes=[Route("/graphql", _big), Route("/storage/file/x", _big)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        r = await client.get(path, headers={"accept-encoding": "gzip"})
    assert r.content == BIG
    assert (r.headers.get("content-encoding") == "gzip") is encoded
    if not encoded:
        assert r.headers["content-length"] == str(len(BIG))


async def test_arrow_streams_are_not_compressed() -> None:
    async def arrow(_request: Request) -> Response:
        return Response(BIG, media_type="application/vnd.apache.arrow.stream")

    app = ApiGZip(Starlette(routes=[Route("/api/v1/runs/history", arrow)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        r = await client.get("/api/v1/runs/history", headers={"accept-encoding": "gzip"})
    assert r.content == BIG and "content-encoding" not in r.headers
