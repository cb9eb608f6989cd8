"""Load shedding: past a number of requests in flight, answer 429 + Retry-After at once.

The wandb SDK retries 429 with the server's Retry-After, so shedding loses nothing, while
queueing without bound would hold every request body in memory and time clients out.
Health probes and static assets are never shed.

``file_stream`` requests have a pool of their own: the SDK keeps exactly one in flight per
live run, so their number is the number of runs training right now, and the group-commit
writer already bounds what they queue (503 past its limit). Sharing the general pool would
make a team with more live runs than that pool retry every history write a second later.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

_SHED_PREFIXES = ("/graphql", "/files/", "/storage/", "/api/")
_STREAM_SUFFIX = "/file_stream"


class ConcurrencyLimit:
    """ASGI middleware admitting at most ``limit`` API requests at a time, plus at most
    ``stream_limit`` file_stream requests (0 disables either limit)."""

    def __init__(self, app: ASGIApp, limit: int, stream_limit: int = 0,
                 retry_after_s: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.stream_limit = stream_limit
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.streams_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(_SHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if path.startswith("/files/") and path.endswith(_STREAM_SUFFIX):
            await self._stream(scope, receive, send)
            return
        if self.limit <= 0:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._shed(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stream_limit <= 0:
            await self.app(scope, receive, send)
            return
        if self.streams_in_flight >= self.stream_limit:
            await self._shed(send)
            return
        self.streams_in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams_in_flight -= 1

    async def _shed(self, send: Send) -> None:
        message = "server busy: too many requests in flight, retry shortly"
        body = orjson.dumps({"error": message, "errors": [{"message": message}]})
        await send({
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.retry_after_s).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": body})
