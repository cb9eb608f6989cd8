"""The one place where domain errors become HTTP responses and GraphQL error messages."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError
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
    UnsupportedMediaType,
)

log = logging.getLogger("tracklet.server")

_STATUS: list[tuple[type[TrackletError], int]] = [
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
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
    """A JSON error body in the shape the SDK reads (``errors[].message``).

    A 401 carries no ``WWW-Authenticate: Basic`` challenge: browsers answer one with a
    password prompt and then send the typed credentials to every request of the site by
    themselves. The SDK sends its key without being challenged.
    """
    status = status_for(exc)
    headers = {}
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    body = {"error": exc.message, "errors": [{"message": exc.message}]}
    return JSONResponse(body, status_code=status, headers=headers)


async def tracklet_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for TrackletError."""
    assert isinstance(exc, TrackletError)
    if isinstance(exc, Unavailable):
        log.warning("%s %s: %s; answered 503", request.method, request.url.path, exc.message)
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


def graphql_status(result: dict[str, Any], originals: Sequence[BaseException | None]) -> int:
    """The HTTP status of a GraphQL response.

    * The request never executed (syntax error, unknown field, variables of the wrong type):
      400, so clients and proxies see a client error and never a 200 without data.
    * Every root field came back null because of domain errors (unknown run, bad file name,
      permission denied): that error's status, so a failed operation is a clear 4xx.
    * Anything else, including partial data: 200 with ``errors`` as GraphQL intends.

    Conflict is answered 400 here rather than 409: wandb-core retries a 409 on UpsertBucket
    for minutes, and a GraphQL-level conflict never goes away by retrying.
    """
    errors = result.get("errors")
    if not errors:
        return 200
    data = result.get("data")
    # graphql-core wraps variable-coercion failures around another GraphQLError.
    raised = [o for o in originals if o is not None and not isinstance(o, GraphQLError)]
    if data is None and not raised:
        return 400
    if isinstance(data, dict) and any(v is not None for v in data.values()):
        return 200
    domain = [o for o in originals if isinstance(o, TrackletError)]
    if not domain or len(domain) != len(originals):
        return 200
    status = status_for(domain[0])
    return 400 if status == 409 else status
