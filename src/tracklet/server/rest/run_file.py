"""GET /api/v1/runs/file: one file of a run, from this origin, for the web UI.

Query parameters: ``run`` (``entity/project/run``), ``name`` (the file's name in the run,
e.g. ``media/images/img_0_ab12.png``) and optional ``view=html``.

The pages show a run's media through this route rather than the signed download URLs the
SDK gets: over S3 those point at the bucket's origin, which the pages' Content-Security-Policy
does not name (and a ``fetch`` of a table there would need CORS on the bucket). The user's key
or session cookie authorises the read like any API call.

Bytes go out as :func:`tracklet.domain.media.delivery` decides (a type a browser only
displays, else an attachment). One ``Range: bytes=...`` is honoured (206), so audio and video
players can seek; a range that is malformed, multiple or past the end is ignored (the whole
file, 200), which HTTP allows. ``view=html`` serves an ``.html`` file (``wandb.Html``) as a
document for the run page's sandboxed frame, under :data:`HTML_MEDIA_CSP`: its own inline
styles and ``data:`` images render, no script runs (``sandbox`` without ``allow-scripts``,
so even opened on its own it is a unique origin without script), nothing is fetched from
elsewhere, and only pages of this site may frame it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracklet.domain.media import delivery
from tracklet.domain.policy import Action, require
from tracklet.domain.records import RunFile, User
from tracklet.errors import InvalidInput, NotFound
from tracklet.server.access import request_user
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.metadata.runs import get_run_by_path, get_run_file

#: The policy of an HTML media document: inline styles and data: images and fonts only, no
#: script (``sandbox`` without ``allow-scripts``), no form, no fetch, framed by this site only.
HTML_MEDIA_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "font-src data:; base-uri 'none'; form-action 'none'; "
                  "frame-ancestors 'self'; sandbox")
MAX_NAME = 1024
VIEWS = ("", "html")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class Query:
    """A validated request."""

    entity: str
    project: str
    run: str
    name: str
    view: str
    range_header: str | None = None
    if_none_match: str | None = None
    if_range: str | None = None


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one satisfiable ``bytes=`` range of ``header`` as (first, last) inclusive, or
    None (no header, or one to ignore)."""
    m = _RANGE.fullmatch((header or "").strip())
    if m is None or (not m.group(1) and not m.group(2)) or size == 0:
        return None
    if not m.group(1):  # the last n bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n > 0 else None
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    return (first, last) if first <= last else None


def entity_tag(md5: str | None) -> str | None:
    """The strong ETag of a file whose content has this MD5 (None without one)."""
    return f'"{md5}"' if md5 else None


def names_tag(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header lists ``tag`` (or is ``*``); weak tags compare
    by their opaque part, as that header's weak comparison does."""
    listed = [t.strip().removeprefix("W/") for t in (header or "").split(",")]
    return "*" in listed or tag in listed


def parse_query(params: Any) -> Query:
    """Validate the query parameters; InvalidInput says what is wrong."""
    run = (params.get("run") or "").strip()
    parts = run.split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(f"run must be entity/project/run, got {run!r}")
    name = params.get("name") or ""
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must name one of the run's files (1 to {MAX_NAME} "
                           "characters)")
    view = params.get("view") or ""
    if view not in VIEWS:
        raise InvalidInput(f"view must be html or absent, got {view!r}")
    if view == "html" and not name.lower().endswith((".html", ".htm")):
        raise InvalidInput("view=html serves .html files only")
    return Query(parts[0], parts[1], parts[2], name, view)


def _ranged(storage: Storage, key: str, found: RunFile, q: Query) -> Response:
    tag = entity_tag(found.md5)
    cache = {"Cache-Control": "private, no-cache", **({"ETag": tag} if tag else {})}
    if tag is not None and names_tag(q.if_none_match, tag):
        return Response(status_code=304, headers=cache)
    # A range is served only of the content the client holds the rest of (strong match).
    asked = q.range_header if q.if_range is None or q.if_range.strip() == tag else None
    size = storage.blobs.size(key)
    span = byte_range(asked, size)
    how = delivery(q.name, found.mimetype)
    if span is None:
        return StreamingResponse(storage.blobs.open(key), media_type=how.media_type, headers={
            **how.headers(), **cache, "Accept-Ranges": "bytes", "Content-Length": str(size)})
    first, last = span
    return StreamingResponse(storage.blobs.open_range(key, first, last), status_code=206,
                             media_type=how.media_type, headers={
                                 **how.headers(), **cache, "Accept-Ranges": "bytes",
                                 "Content-Length": str(last - first + 1),
                                 "Content-Range": f"bytes {first}-{last}/{size}"})


def _answer(storage: Storage, user: User, q: Query) -> Response:
    require(user, Action.READ, q.entity, q.project)
    with storage.db.read() as conn:
        run = get_run_by_path(conn, q.entity, q.project, q.run)
        found = get_run_file(conn, run.id, q.name)
    if found is None or found.blob_key is None:
        raise NotFound(f"run {q.entity}/{q.project}/{q.run} has no file {q.name!r}")
    if q.view != "html":
        return _ranged(storage, found.blob_key, found, q)
    size = storage.blobs.size(found.blob_key)
    return StreamingResponse(storage.blobs.open(found.blob_key), media_type="text/html",
                             headers={"Content-Length": str(size),
                                      "Content-Security-Policy": HTML_MEDIA_CSP,
                                      "X-Frame-Options": "SAMEORIGIN",
                                      "X-Content-Type-Options": "nosniff",
                                      "Cache-Control": "private, no-cache"})


async def run_file(request: Request) -> Response:
    """Answer one run file read."""
    state: AppState = request.app.state.tracklet
    query = replace(parse_query(request.query_params),
                    range_header=request.headers.get("range"),
                    if_none_match=request.headers.get("if-none-match"),
                    if_range=request.headers.get("if-range"))
    response: Response = await to_thread.run_sync(_answer, state.storage,
                                                  request_user(request), query)
    return response
