"""Who may call each route: declared in ``server/routes.py``, enforced here before the handler.

Every route is built with :func:`route` and names its :class:`Access`:

* ``PUBLIC``: anyone, no credentials looked at (health and readiness probes).
* ``USER``: a known user, resolved by the one :class:`~tracklet.server.auth.Authenticator`
  (an API key as HTTP basic ``api:<key>`` or ``Authorization: Bearer <key>``; another kind
  of credential, such as a browser session, is added there and every such route takes it).
  The handler reads the user with :func:`request_user`.
* ``SIGNED_URL``: the URL carries its own authority, an HMAC token of the route's kind in
  ``?t=`` (:mod:`tracklet.server.signing`), because the SDK sends no credentials with blob
  uploads and downloads. The handler reads the token's claims with :func:`url_claims`
  (upload routes its single-use part with :func:`upload_token`), and looks the object they
  name up again, so a URL opens nothing once its run or artifact is gone.

Refusals are domain errors (:class:`~tracklet.errors.Unauthenticated` for missing or unknown
credentials, :class:`~tracklet.errors.PermissionDenied` for a bad, expired or foreign
signature), answered by ``server/errors.py`` like any other. Whether the user may act on a
given entity is decided afterwards, by :mod:`tracklet.domain.access`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.domain.records import User
from tracklet.errors import PermissionDenied, Unauthenticated
from tracklet.ingest.uploads import UploadToken
from tracklet.server.signing import verify
from tracklet.server.state import AppState

Endpoint = Callable[[Request], Awaitable[Response]]


class Access(enum.Enum):
    """How a route authorises its callers."""

    PUBLIC = "public"
    USER = "user"
    SIGNED_URL = "signed_url"


class AccessRoute(Route):
    """A route that declares its :class:`Access`; its endpoint runs behind the guard."""

    def __init__(self, path: str, endpoint: Endpoint, *, methods: Sequence[str],
                 access: Access, token: str | None = None) -> None:
        if (access is Access.SIGNED_URL) != (token is not None):
            raise ValueError(f"{path}: a signed-URL route names its token kind, others none")
        self.access = access
        #: The kind of signed token (the ``k`` claim) the route accepts, for SIGNED_URL.
        self.token = token
        super().__init__(path, _guarded(endpoint, access, token), methods=list(methods),
                         name=endpoint.__name__)


def route(path: str, endpoint: Endpoint, methods: Sequence[str], *, access: Access,
          token: str | None = None) -> AccessRoute:
    """One entry of the URL map: ``endpoint`` answers ``methods`` on ``path`` for callers
    that ``access`` admits (``token``: the signed token kind of a SIGNED_URL route)."""
    return AccessRoute(path, endpoint, methods=methods, access=access, token=token)


def request_user(request: Request) -> User:
    """The user the guard authenticated for this request (a USER route's handler)."""
    user = getattr(request.state, "user", None)
    if not isinstance(user, User):
        # Only a route declared without USER access gets here: refuse rather than serve.
        raise Unauthenticated("this route does not authenticate its callers")
    return user


def url_claims(request: Request) -> dict[str, Any]:
    """The claims of the request's verified signed token (a SIGNED_URL route's handler)."""
    claims = getattr(request.state, "claims", None)
    if not isinstance(claims, dict):
        raise Unauthenticated("this route takes no signed URL")
    return claims


def upload_token(request: Request) -> UploadToken:
    """The single-use token of a signed upload URL (its nonce and expiry).

    A token without a nonce (handed out before upload URLs became single-use) is refused.
    """
    claims = url_claims(request)
    nonce, exp = claims.get("j"), claims.get("exp")
    if not isinstance(nonce, str) or not nonce or not isinstance(exp, int):
        raise PermissionDenied("this upload URL is not single-use; ask for a new one")
    return UploadToken(nonce, float(exp))


async def authenticate(request: Request) -> User:
    """The user behind the request's credentials; Unauthenticated when missing or wrong.

    A known key is answered from the cache on the event loop: a hop to a worker thread
    costs a file_stream request or a history page a noticeable share of its time. Only a
    cache miss reads the database, in a worker thread.
    """
    state: AppState = request.app.state.tracklet
    user = state.auth.cached_user(request)
    if user is None:
        user = await to_thread.run_sync(state.auth.authenticate, request)
    return user


def _guarded(endpoint: Endpoint, access: Access, token: str | None) -> Endpoint:
    if access is Access.PUBLIC:
        return endpoint
    if access is Access.USER:

        async def user_route(request: Request) -> Response:
            request.state.user = await authenticate(request)
            return await endpoint(request)

        return functools.wraps(endpoint)(user_route)
    assert token is not None

    async def signed_route(request: Request) -> Response:
        state: AppState = request.app.state.tracklet
        request.state.claims = verify(state.signing_secret, request.query_params.get("t", ""),
                                      token)
        return await endpoint(request)

    return functools.wraps(endpoint)(signed_route)
