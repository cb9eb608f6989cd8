"""The domain exception tree. Raised deep, mapped to HTTP and GraphQL in ``server/errors.py``.

::

    TrackletError
     ├── InvalidInput          bad request data (400)
     │    ├── PayloadTooLarge  body over the configured limit (413)
     │    └── UnsupportedMediaType  a body of a Content-Type the route does not take (415)
     ├── Unauthenticated       missing or unknown API key or session, wrong password (401)
     ├── PermissionDenied      the key's user may not touch this entity; a cookie-
     │                         authenticated write without its CSRF token (403)
     ├── NotFound              unknown entity, project, run, file or token target (404)
     ├── Conflict              the request contradicts stored state (409)
     ├── Unsupported           a W&B feature tracklet does not offer yet (400, clear message)
     ├── Unavailable           transient: database busy, overloaded (503 + Retry-After)
     │    └── RateLimited      this caller is over a per-caller limit (429 + Retry-After)
     └── StoreUnusable         a --db / --blobs URL that cannot work: unknown scheme, a
                               store that refuses or cannot be reached (at start: the CLI
                               prints it and exits 1)
"""

from __future__ import annotations


class TrackletError(Exception):
    """Base of every error tracklet raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(TrackletError):
    """The request is malformed or has values of the wrong type or shape."""


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the configured limit."""


class UnsupportedMediaType(InvalidInput):
    """The request body's Content-Type is not one the route accepts."""


class Unauthenticated(TrackletError):
    """No API key or session, one the server does not know, or a wrong password."""


class PermissionDenied(TrackletError):
    """The caller is known but may not act on this object."""


class NotFound(TrackletError):
    """The named object does not exist (or is not visible to the caller)."""


class Conflict(TrackletError):
    """The request contradicts what is stored (e.g. resume='never' of an existing run)."""


class Unsupported(TrackletError):
    """A W&B feature that tracklet does not implement yet."""


class Unavailable(TrackletError):
    """A transient condition; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Unavailable):
    """This caller is over a per-caller limit (failed sign-ins, requests in flight); the
    client should retry after ``retry_after`` seconds."""


class StoreUnusable(TrackletError):
    """A database or blob store URL that cannot be used, found when the store is opened: an
    unsupported scheme, or a store that cannot be reached or refuses the connection. The
    message says what was tried and the driver's reason, never a password."""
