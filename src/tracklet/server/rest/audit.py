"""``GET /api/v1/audit``: the audit log of administrative actions, newest first, for server
admins (anyone else is told there is no such thing). ``?limit=`` (1-1000, default 100) and
``?before=<id>`` page back through it."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tracklet.errors import InvalidInput
from tracklet.server.access import request_user
from tracklet.server.state import AppState
from tracklet.storage import teams


def _int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}")
    return int(value)


async def audit_log(request: Request) -> Response:
    """The newest audit entries (``before``: only entries older than that id)."""
    state: AppState = request.app.state.tracklet
    limit = _int(request.query_params.get("limit"), "limit", 1, 1000) or 100
    before = _int(request.query_params.get("before"), "before", 1, 2**62)
    entries = await to_thread.run_sync(
        lambda: teams.audit_entries(state.storage, request_user(request), limit, before))
    return JSONResponse({"entries": [
        {"id": e.id, "at": e.created_at, "actor": e.actor, "action": e.action,
         "target": e.target, "detail": e.detail} for e in entries]})
