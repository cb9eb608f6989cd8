"""GET/HEAD of Parquet history exports through signed URLs, with HTTP Range support.

The SDK's reader asks for the size with HEAD, then reads byte ranges (footer, then the
column chunks it needs) when scanning selected keys; it downloads whole files otherwise.
A URL names a run and a part, looked up again here: once the run is deleted it opens
nothing.
"""

from __future__ import annotations

from pathlib import Path

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from tracklet.domain.media import PARQUET, delivery
from tracklet.errors import NotFound
from tracklet.server.access import url_claims
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.history.export.table import get_exports


def _export_path(storage: Storage, run_id: int, part: int) -> Path:
    with storage.db.read() as conn:
        found = [e for e in get_exports(conn, run_id) if e.part == part]
    if not found:
        raise NotFound("no such history export (its run may have been deleted)")
    return storage.files.path(found[0].blob_key)


async def download(request: Request) -> Response:
    """Serve the export part named by the URL's signed token."""
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    run_id, part = claims.get("r"), claims.get("p")
    if not isinstance(run_id, int) or not isinstance(part, int):
        raise NotFound("no such history export")
    path = await to_thread.run_sync(_export_path, state.storage, run_id, part)
    return FileResponse(path, media_type=PARQUET,
                        headers=delivery("history.parquet", PARQUET).headers())
