"""POST /files/{entity}/{project}/{run}/file_stream."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from tracklet.domain.policy import Action, require
from tracklet.ingest.filestream import StreamLimits, StreamRequest, parse_file_stream
from tracklet.server.access import request_user
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState

#: Bodies up to this size are parsed on the event loop: a thread hand-off costs more than
#: parsing a few hundred lines, while a big body must not stall other requests.
INLINE_PARSE_BYTES = 256 * 1024

_OK = b'{"exitcode":null,"limits":{}}'
_STOPPED = b'{"exitcode":null,"limits":{},"stopped":true}'


async def file_stream(request: Request) -> Response:
    """Store one file_stream request; answered only after the data is committed.

    The body is the SDK's ``{"files": {...}, "uploaded": [...], "complete": ...}``; the answer
    carries ``"stopped": true`` once someone asked the run to stop (the SDK polls for it).
    Requests are queued to the group-commit writer, which stores many in one transaction.
    """
    state: AppState = request.app.state.tracklet
    p = request.path_params
    entity, project, name = p["entity"], p["project"], p["run"]
    require(request_user(request), Action.WRITE, entity, project)
    payload = await read_json(request, state.settings.max_body_bytes)
    update: Any
    limits = StreamLimits.from_settings(state.settings)
    if _small(request):
        update = parse_file_stream(payload, limits)
    else:
        update = await to_thread.run_sync(parse_file_stream, payload, limits)
    result = await state.writer.submit(StreamRequest(entity, project, name, update,
                                                     writer=_shared_writer(request)))
    for kind, chunk in (("history", update.history), ("events", update.events),
                        ("console", update.output), ("summary", update.summary)):
        if chunk is not None:
            state.metrics.count_rows(kind, len(chunk.lines))
    return Response(_STOPPED if result.stopped else _OK, media_type="application/json")


def _shared_writer(request: Request) -> str | None:
    """The writer id of a shared-mode run's stream (each counts its lines from 0), or None.
    Ids longer than the column are cut: the SDK's are a few dozen characters."""
    headers = request.headers
    if headers.get("x-wandb-use-async-filestream", "").lower() != "true":
        return None
    writer = headers.get("x-wandb-async-client-id", "").strip()
    return writer[:128] or None


def _small(request: Request) -> bool:
    length = request.headers.get("content-length")
    return length is not None and length.isdigit() and int(length) <= INLINE_PARSE_BYTES
