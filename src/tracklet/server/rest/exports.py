"""GET/HEAD of Parquet history exports through signed URLs, with HTTP Range support.

The SDK's reader asks for the size with HEAD, then reads byte ranges (footer, then the
column chunks it needs) when scanning selected keys; it downloads whole files otherwise.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from tracklet.server.access import url_claims
from tracklet.server.state import AppState

PARQUET = "application/vnd.apache.parquet"


async def download(request: Request) -> Response:
    """Serve the export named by the URL's signed token."""
    state: AppState = request.app.state.tracklet
    claims = url_claims(request)
    path = await to_thread.run_sync(state.storage.files.path, str(claims["b"]))
    return FileResponse(path, media_type=PARQUET)
