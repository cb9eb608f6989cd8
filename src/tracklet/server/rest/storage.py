"""Signed upload (PUT) and download (GET) of file bytes."""

from __future__ import annotations

from typing import BinaryIO

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklet.ingest.uploads import guess_mimetype, new_spool, store_stream
from tracklet.server.signing import verify
from tracklet.server.state import AppState
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.metadata import runs as run_repo

METADATA_FILE = "wandb-metadata.json"


def _token(request: Request) -> str:
    return request.query_params.get("t", "")


async def upload(request: Request) -> Response:
    """PUT of a run file's bytes to a URL handed out by CreateRunFiles."""
    state: AppState = request.app.state.tracklet
    claims = verify(state.storage.signing_secret(), _token(request), "up")
    run_id, name = int(claims["r"]), str(claims["n"])
    spool = new_spool()
    try:
        async for chunk in request.stream():
            await to_thread.run_sync(spool.write, chunk)
        await to_thread.run_sync(_store_run_file, state, spool, run_id, name)
    finally:
        spool.close()
    return Response(status_code=200)


def _store_run_file(state: AppState, spool: BinaryIO, run_id: int, name: str) -> None:
    blob = store_stream(state.storage, spool)
    metadata: str | None = None
    if name == METADATA_FILE and blob.size < 16 * 1024 * 1024:
        spool.seek(0)
        text = spool.read().decode("utf-8", errors="replace")
        if loads_object(text) is not None:
            metadata = text
    with state.storage.db.write() as conn:
        if run_repo.get_run_by_id(conn, run_id) is None:
            return
        run_repo.store_run_file(conn, run_id, name, blob.key, blob.md5_b64, blob.size,
                                guess_mimetype(name))
        if metadata is not None:
            run_repo.set_run_columns(conn, run_id, metadata=metadata)


async def download(request: Request) -> Response:
    """GET of stored bytes through a signed URL."""
    state: AppState = request.app.state.tracklet
    claims = verify(state.storage.signing_secret(), _token(request), "get")
    key = str(claims["b"])
    size = await to_thread.run_sync(state.storage.blobs.size, key)
    chunks = await to_thread.run_sync(state.storage.blobs.open, key)
    name = request.path_params.get("name", "")
    return StreamingResponse(
        chunks,
        media_type=guess_mimetype(name),
        headers={"Content-Length": str(size)},
    )
