"""Response compression for JSON endpoints only.

File bytes (``/storage/...``) go out exactly as stored: compressing them on the fly costs CPU
for data that is usually already compressed and drops ``Content-Length``.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

UNCOMPRESSED_PREFIXES = ("/storage/", "/artifacts/", "/artifactsV2/")


class JsonGZipMiddleware:
    """gzip for GraphQL and API answers; a pass-through for file transfers."""

    def __init__(self, app: ASGIApp, minimum_size: int = 4096) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(
            UNCOMPRESSED_PREFIXES
        ):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)
