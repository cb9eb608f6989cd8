"""POST /files/{entity}/{project}/{run}/file_stream."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from tracklet.domain.access import require_write
from tracklet.ingest.filestream import apply_file_stream, parse_file_stream
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState


async def file_stream(request: Request) -> JSONResponse:
    """Store one file_stream request; answered only after the data is committed.

    The body is the SDK's ``{"files": {...}, "uploaded": [...], "complete": ...}``; the answer
    carries ``"stopped": true`` once someone asked the run to stop (the SDK polls for it).
    """
    state: AppState = request.app.state.tracklet
    user = await to_thread.run_sync(state.auth.authenticate, request)
    p = request.path_params
    entity, project, name = p["entity"], p["project"], p["run"]
    require_write(user, entity)
    payload = await read_json(request, state.settings.max_body_bytes)
    update = await to_thread.run_sync(parse_file_stream, payload)
    result = await to_thread.run_sync(
        apply_file_stream, state.storage, entity, project, name, update
    )
    body: dict[str, Any] = {"exitcode": None, "limits": {}}
    if result.stopped:
        body["stopped"] = True
    return JSONResponse(body)
