"""The one place where domain errors become HTTP responses and GraphQL error messages."""

from __future__ import annotations

import logging
import math
import re
import secrets
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
    RateLimited,
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
    (RateLimited, 429),
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
        log.warning("%s %s: %s; answered %d", request.method, request.url.path, exc.message,
                    status_for(exc))
    return error_response(exc)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Anything unplanned: logged with its traceback under a request id; the client gets a
    plain 500 carrying that id, never the exception's text."""
    request_id = new_request_id()
    log.error("unhandled error on %s %s (request id %s)", request.method, request.url.path,
              request_id, exc_info=exc)
    message = f"internal server error (request id {request_id})"
    return JSONResponse({"error": message, "errors": [{"message": message}]}, status_code=500)


def new_request_id() -> str:
    """A short random id naming one request in the log and in its error messages."""
    return secrets.token_hex(8)


def resolver_error(exc: BaseException) -> BaseException:
    """The error a resolver's exception stands for: a call that never entered the resolver
    (a TypeError raised by binding the field's arguments: an argument missing or unknown)
    is the caller's InvalidInput; an integer the database cannot hold (sqlite3 raises
    OverflowError while binding it) too; anything else is returned as it is."""
    if isinstance(exc, TypeError) and _raised_by_call(exc):
        match = _CALL_MISMATCH.search(str(exc))
        detail = (match.group(1).replace(" positional argument", " argument")
                  .replace(" keyword argument", " argument")
                  if match else "arguments do not match the field")
        return InvalidInput(f"invalid arguments: {detail}")
    if isinstance(exc, OverflowError) and "SQLite INTEGER" in str(exc):
        return InvalidInput("an integer argument is out of range (64-bit signed at most)")
    return exc


# "resolve_x() missing 1 required positional argument: 'input'", "... got an unexpected
# keyword argument 'foo'", "... takes 2 positional arguments but 3 were given"
_CALL_MISMATCH = re.compile(r"\)\s+(missing .*|got an unexpected .*|takes .*)$")
_CALLER_PACKAGES = ("/graphql/", "/ariadne/")


def _raised_by_call(exc: TypeError) -> bool:
    """Whether ``exc`` was raised at a call site in graphql-core or ariadne (binding the
    arguments) rather than inside a resolver: the innermost traceback frame tells."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
    return any(part in filename for part in _CALLER_PACKAGES) and bool(
        _CALL_MISMATCH.search(str(exc)))


def graphql_message(exc: BaseException, request_id: str = "") -> str:
    """The message a GraphQL client sees for an error raised in a resolver: the domain
    message, or for anything unplanned a generic one carrying the request id it was logged
    under (never the exception's own text, which tells internals)."""
    if isinstance(exc, TrackletError):
        return exc.message
    if isinstance(exc, GraphQLError):
        return exc.message
    return f"internal server error (request id {request_id or 'unknown'})"


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
