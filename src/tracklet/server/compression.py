"""Response compression for API answers, never for stored file bytes.

File downloads stream as they are stored: gzip over a large checkpoint costs a core per
download, drops ``Content-Length`` and makes no sense for already-compressed media.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

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


# -- large answers: fast gzip, deflated in parallel --------------------------------------------

LARGE_BODY = 1 << 20
_CHUNK = 1 << 22
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _deflate_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)),
                                       thread_name_prefix="tracklet-deflate")
        return _pool


def _deflate(chunk: bytes, level: int, last: bool) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    # A sync flush ends the piece on a byte boundary without a final block, so the raw
    # pieces concatenate into one valid deflate stream (what pigz does).
    return c.compress(chunk) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def gzip_large(body: bytes, level: int = 1) -> bytes:
    """``body`` as one gzip member, its 4 MiB pieces deflated in parallel threads (zlib
    releases the GIL).

    For multi-megabyte API answers (chart series) compressed on every request: level 6 over
    50 MB costs seconds of one core, level 1 a quarter of that for a few percent more bytes.
    """
    view = memoryview(body)
    pieces = [bytes(view[i:i + _CHUNK]) for i in range(0, len(body), _CHUNK)] or [b""]
    n = len(pieces)
    if n == 1:
        deflated = [_deflate(pieces[0], level, True)]
    else:
        deflated = list(_deflate_pool().map(_deflate, pieces, [level] * n,
                                            [i == n - 1 for i in range(n)]))
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(body) & 0xFFFFFFFF, len(body) & 0xFFFFFFFF)
    return b"".join([header, *deflated, trailer])


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header value allows gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _q_zero(q[2:]))
    return False


def _q_zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False
