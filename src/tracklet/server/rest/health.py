"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from anyio import to_thread
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from tracklet.server.state import AppState


async def health(_request: Request) -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """The database answers."""
    state: AppState = request.app.state.tracklet

    def ping() -> None:
        with state.storage.db.read() as conn:
            conn.execute(text("SELECT 1"))

    await to_thread.run_sync(ping)
    return JSONResponse({"status": "ready"})
