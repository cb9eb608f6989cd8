"""POST /files/{entity}/{project}/{run}/file_stream."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from tracklet.domain.access import require_write
from tracklet.errors import NotFound
from tracklet.ingest.filestream import apply_file_stream, parse_file_stream
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState
from tracklet.storage.metadata import runs as run_repo


async def file_stream(request: Request) -> JSONResponse:
    """Store one file_stream request; answered only after the data is committed."""
    state: AppState = request.app.state.tracklet
    user = await to_thread.run_sync(state.auth.authenticate, request)
    p = request.path_params
    entity, project, name = p["entity"], p["project"], p["run"]
    require_write(user, entity)
    payload = await read_json(request, state.settings.max_body_bytes)
    update = parse_file_stream(payload)

    def apply() -> None:
        with state.storage.db.read() as conn:
            run = run_repo.find_run_by_path(conn, entity, project, name)
        if run is None:
            raise NotFound(f"run {entity}/{project}/{name} not found")
        apply_file_stream(state.storage, run, update)

    await to_thread.run_sync(apply)
    return JSONResponse({"exitcode": None, "limits": {}})
