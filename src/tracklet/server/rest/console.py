"""GET /api/v1/runs/console: one page of a run's console output (``output.log`` as the SDK
streams it, rewritten lines already replaced).

Query parameters: ``run`` (``entity/project/run``), ``after`` (a line index; lines after it
come back, default -1: from the first), ``limit`` (1 to 5,000, default 1,000) and ``q`` (only
lines containing this text, case-insensitive). The answer::

    {"run": "e/p/r", "total": 12345, "lines": [[0, "2026-...Z text"], ...],
     "next": 999}

``total`` counts every stored line; ``next`` is the ``after`` of the following page, or null
when this page reached the end. Lines are the text the SDK sent (timestamp prefix, ``ERROR ``
for stderr, ANSI escapes kept): the UI renders them as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import InvalidInput
from tracklet.server.access import request_user
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.history.live.read import console_page
from tracklet.storage.metadata.runs import get_run_by_path

MAX_LIMIT = 5000
DEFAULT_LIMIT = 1000
MAX_QUERY = 1000


@dataclass(frozen=True)
class Query:
    """A validated request."""

    run: str
    entity: str
    project: str
    name: str
    after: int
    limit: int
    contains: str | None


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {value!r}") from None
    if not lo <= n <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}, got {n}")
    return n


def parse_query(params: Any) -> Query:
    """Validate the query parameters; InvalidInput says what is wrong."""
    run = (params.get("run") or "").strip()
    parts = run.split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(f"run must be entity/project/run, got {run!r}")
    after = _int(params.get("after"), "after", -1, -1, 2**63 - 1)
    limit = _int(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    contains = params.get("q") or None
    if contains is not None and len(contains) > MAX_QUERY:
        raise InvalidInput(f"q is at most {MAX_QUERY} characters")
    return Query(run, parts[0], parts[1], parts[2], after, limit, contains)


def read_page(storage: Storage, user: User, q: Query) -> bytes:
    """The page as JSON (the run found and its access checked first)."""
    require(user, Action.READ, q.entity, q.project)
    with storage.db.read() as conn:
        run_id = get_run_by_path(conn, q.entity, q.project, q.name).id
        total, lines = console_page(conn, run_id, q.after, q.limit, q.contains)
    # A full page may have more after it; a short one reached the end.
    following = lines[-1][0] if len(lines) == q.limit else None
    return orjson.dumps({"run": q.run, "total": total, "lines": lines, "next": following})


async def runs_console(request: Request) -> Response:
    """Answer one console page."""
    state: AppState = request.app.state.tracklet
    query = parse_query(request.query_params)
    body = await to_thread.run_sync(read_page, state.storage, request_user(request), query)
    return Response(body, media_type="application/json")
