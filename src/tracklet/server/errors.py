"""The one place where domain errors become HTTP responses and GraphQL error messages."""

from __future__ import annotations

import logging
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tracklet.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    TrackletError,
    Unauthenticated,
    Unavailable,
    Unsupported,
)

log = logging.getLogger("tracklet.server")

_STATUS: list[tuple[type[TrackletError], int]] = [
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unsupported, 400),
    (Unavailable, 503),
]


def status_for(exc: TrackletError) -> int:
    """The HTTP status of a domain error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_response(exc: TrackletError) -> Response:
    """A JSON error body in the shape the SDK reads (``errors[].message``)."""
    status = status_for(exc)
    headers = {}
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Basic realm="tracklet"'
    body = {"error": exc.message, "errors": [{"message": exc.message}]}
    return JSONResponse(body, status_code=status, headers=headers)


async def tracklet_error_handler(_request: Request, exc: Exception) -> Response:
    """Starlette exception handler for TrackletError."""
    assert isinstance(exc, TrackletError)
    return error_response(exc)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Anything unplanned: logged with its traceback; the client gets a plain 500."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal server error", "errors": [
        {"message": "internal server error"}]}, status_code=500)


def graphql_message(exc: BaseException) -> str:
    """The message a GraphQL client sees for an error raised in a resolver."""
    if isinstance(exc, TrackletError):
        return exc.message
    return str(exc) or exc.__class__.__name__
