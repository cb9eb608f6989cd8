"""Reading request bodies with a size limit (413 beyond it) and optional gzip."""

from __future__ import annotations

import zlib
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from tracklet.errors import InvalidInput, PayloadTooLarge
from tracklet.storage.history.jsonline import loads

# Below this a JSON parse is quicker than the hop to a worker thread.
_INLINE_PARSE_BYTES = 64 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, decompressed if gzip-encoded; PayloadTooLarge past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
    gzip = request.headers.get("content-encoding", "").lower() == "gzip"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error:
                raise InvalidInput("request body is not valid gzip") from None
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def parse_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON (NaN/Infinity accepted); InvalidInput when it is not JSON."""
    if not raw.strip():
        raise InvalidInput("request body is empty; expected JSON")
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON; large bodies are parsed off the event loop."""
    raw = await read_body(request, limit)
    if len(raw) < _INLINE_PARSE_BYTES:
        return parse_json(raw)
    return await to_thread.run_sync(parse_json, raw)
