"""Signed upload (PUT) and download (GET) of run file bytes.

These URLs carry their own authority (an HMAC token in ``?t=``) because the SDK sends no
credentials with uploads; the route guard (:mod:`tracklet.server.access`) answers a forged,
tampered or expired token 403 before these handlers run. An upload URL stores bytes once;
a download URL names a run and a file, looked up again here, so it opens nothing once the
run (or the file) is gone. Downloads go out with their stored type only when a browser
cannot run it (:func:`tracklet.domain.media.delivery`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklet.domain.media import delivery
from tracklet.errors import NotFound
from tracklet.ingest.uploads import new_spool, store_run_file
from tracklet.server.access import upload_token, url_claims
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.metadata import runs as run_repo

_FLUSH_BYTES = 1024 * 1024


async def upload(request: Request) -> Response:
    """PUT of a run file's bytes to a URL handed out by CreateRunFiles.

    The body is spooled to a temporary file (bounded memory), then stored and recorded in one
    step; the 200 comes only after both are durable.
    """
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    token = upload_token(request)
    run_id, name = int(claims["r"]), str(claims["n"])
    spool = new_spool()
    try:
        await _receive(request, spool)
        await to_thread.run_sync(store_run_file, state.storage, spool, run_id, name, token)
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


def stream_blob(storage: Storage, key: str, name: str, stored_type: str | None = None
                ) -> Response:
    """The bytes of blob ``key`` as file ``name``: a safe type inline, others as an
    attachment, never sniffed (call in a worker thread: it asks the blob store)."""
    size = storage.blobs.size(key)
    chunks: Iterator[bytes] = storage.blobs.open(key)
    how = delivery(name, stored_type)
    return StreamingResponse(chunks, media_type=how.media_type, headers={
        "Content-Length": str(size), **how.headers()})


def _run_file(storage: Storage, run_id: int, name: str) -> Response:
    with storage.db.read() as conn:
        found = run_repo.get_run_file(conn, run_id, name)
    if found is None or found.blob_key is None:
        raise NotFound("no such file (its run may have been deleted)")
    return stream_blob(storage, found.blob_key, name, found.mimetype)


async def download(request: Request) -> Response:
    """GET of a run file through a signed URL."""
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    run_id, name = claims.get("r"), claims.get("n")
    if not isinstance(run_id, int) or not isinstance(name, str):
        raise NotFound("no such file")
    response: Response = await to_thread.run_sync(_run_file, state.storage, run_id, name)
    return response
