"""Response compression for API answers, never for stored file bytes.

File downloads stream as they are stored: gzip over a large checkpoint costs a core per
download, drops ``Content-Length`` and makes no sense for already-compressed media.
"""

from __future__ import annotations

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class ApiGZip:
    """GZip (level 1) for responses except those under ``skip_prefixes`` and Arrow streams.

    Level 1 because API answers are JSON of numbers, where it gets within about 10% of
    level 6's size at a fifth of the CPU: a 1,000-row history page (265 kB) took 56 ms to
    compress at level 6 and 11 ms at level 1 on this machine, more than the page's own
    reading at level 6.
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 4096,
        # /files/: file_stream answers are a few bytes, so the gzip wrapper is pure overhead
        # on the hottest route.
        skip_prefixes: tuple[str, ...] = ("/storage/", "/artifacts/", "/artifactsV2/",
                                          "/files/"),
    ) -> None:
        self.plain = app
        # Arrow IPC answers are binary columns read by a client that wants them at memory
        # speed: gzip would cost more CPU on both sides than the bytes it saves.
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=1,
                                   exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES,
                                                          ARROW_STREAM))
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.skip_prefixes):
            await self.plain(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)
