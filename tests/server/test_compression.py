"""API answers may be gzipped; stored file bytes are served exactly as stored."""

from __future__ import annotations

import gzip
import os
import zlib

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.server.compression import ApiGZip, accepts_gzip, gzip_large

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


@pytest.mark.parametrize("size", [0, 1, (1 << 22) - 1, 1 << 22, (3 << 22) + 12345])
def test_gzip_large_is_one_standard_gzip_member(size: int) -> None:
    """Pieces deflated in parallel make one stream any gzip reader decodes to the input."""
    body = (os.urandom(size // 4) + b'{"loss": 0.125, ' * (size // 16))[:size]
    body += b"x" * (size - len(body))
    encoded = gzip_large(body)
    assert gzip.decompress(encoded) == body
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert reader.decompress(encoded) == body and reader.eof and reader.unused_data == b""


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.5", True), ("*", True),
    ("identity", False), ("", False), ("gzip;q=0", False), ("GZIP", True),
    ("deflate, gzip;q=0.0", False)])
def test_accepts_gzip(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


async def test_arrow_streams_are_not_compressed() -> None:
    async def arrow(_request: Request) -> Response:
        return Response(BIG, media_type="application/vnd.apache.arrow.stream")

    app = ApiGZip(Starlette(routes=[Route("/api/v1/runs/history", arrow)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        r = await client.get("/api/v1/runs/history", headers={"accept-encoding": "gzip"})
    assert r.content == BIG and "content-encoding" not in r.headers
