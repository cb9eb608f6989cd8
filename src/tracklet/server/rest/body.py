"""Reading request bodies with a size limit (413 beyond it) and optional gzip."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import Request

from tracklet.errors import InvalidInput, PayloadTooLarge
from tracklet.storage.history.jsonline import loads


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


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON (NaN/Infinity accepted); InvalidInput when it is not JSON."""
    raw = await read_body(request, limit)
    if not raw.strip():
        raise InvalidInput("request body is empty; expected JSON")
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
