"""Signed upload (PUT) and download (GET) of file bytes.

These URLs carry their own authority (an HMAC token in ``?t=``) because the SDK sends no
credentials with uploads; the route guard (:mod:`tracklet.server.access`) answers a forged,
tampered or expired token 403 before these handlers run.
"""

from __future__ import annotations

from typing import BinaryIO

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklet.errors import NotFound
from tracklet.ingest.uploads import guess_mimetype, new_spool, store_run_file
from tracklet.server.access import url_claims
from tracklet.server.state import AppState

_FLUSH_BYTES = 1024 * 1024


async def upload(request: Request) -> Response:
    """PUT of a run file's bytes to a URL handed out by CreateRunFiles.

    The body is spooled to a temporary file (bounded memory), then stored and recorded in one
    step; the 200 comes only after both are durable.
    """
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    run_id, name = int(claims["r"]), str(claims["n"])
    spool = new_spool()
    try:
        await _receive(request, spool)
        await to_thread.run_sync(store_run_file, state.storage, spool, run_id, name)
    finally:
        spool.close()
    return Response(status_code=200)


async def _receive(request: Request, spool: BinaryIO) -> None:
    pending: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        pending.append(chunk)
        size += len(chunk)
        if size >= _FLUSH_BYTES:
            await to_thread.run_sync(spool.write, b"".join(pending))
            pending, size = [], 0
    if pending:
        await to_thread.run_sync(spool.write, b"".join(pending))


async def download(request: Request) -> Response:
    """GET of stored bytes through a signed URL."""
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    key = claims.get("b")
    if not isinstance(key, str):
        raise NotFound("no such file")
    size = await to_thread.run_sync(state.storage.blobs.size, key)
    chunks = await to_thread.run_sync(state.storage.blobs.open, key)
    name = request.path_params.get("name", "")
    return StreamingResponse(
        chunks,
        media_type=guess_mimetype(name),
        headers={"Content-Length": str(size)},
    )
