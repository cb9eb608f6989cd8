"""Who may call each route: declared in ``server/routes.py``, enforced here before the handler.

Every route is built with :func:`route` and names its :class:`Access`:

* ``PUBLIC``: anyone, no credentials looked at (health and readiness probes).
* ``USER``: a known user, resolved by the one :class:`~tracklet.server.auth.Authenticator`
  (an API key as HTTP basic ``api:<key>`` or ``Authorization: Bearer <key>``, or a browser's
  session cookie). A request authenticated by the cookie and not GET/HEAD/OPTIONS must
  carry the session's CSRF token in ``X-CSRF-Token`` (the ``tracklet_csrf`` cookie's value,
  which only the server's own pages can read); API-key requests need none, since a browser
  never adds an Authorization header to another site's request by itself.
  The handler reads the user with :func:`request_user`.
* ``SIGNED_URL``: the URL carries its own authority, an HMAC token of the route's kind in
  ``?t=`` (:mod:`tracklet.server.signing`), because the SDK sends no credentials with blob
  uploads and downloads. The handler reads the token's claims with :func:`url_claims`
  (upload routes its single-use part with :func:`upload_token`), and looks the object they
  name up again, so a URL opens nothing once its run or artifact is gone.

A route declared with ``json_body=True`` refuses POST bodies that are not
``application/json`` (415), what the SDK and the web pages send: a form or ``text/plain``
POST, which another site can make a browser send without asking, never reaches the handler.

Refusals are domain errors (:class:`~tracklet.errors.Unauthenticated` for missing or unknown
credentials, :class:`~tracklet.errors.PermissionDenied` for a bad, expired or foreign
signature), answered by ``server/errors.py`` like any other. Whether the user may act on a
given entity is decided afterwards, by the one policy in :mod:`tracklet.domain.policy`.
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
from tracklet.errors import PermissionDenied, Unauthenticated, UnsupportedMediaType
from tracklet.ingest.uploads import UploadToken
from tracklet.server.auth import CSRF_HEADER, Principal, csrf_matches
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
                 access: Access, token: str | None = None, json_body: bool = False) -> None:
        if (access is Access.SIGNED_URL) != (token is not None):
            raise ValueError(f"{path}: a signed-URL route names its token kind, others none")
        self.access = access
        #: The kind of signed token (the ``k`` claim) the route accepts, for SIGNED_URL.
        self.token = token
        #: Whether POST bodies must be ``application/json``.
        self.json_body = json_body
        if access is Access.SIGNED_URL:  # browsers preflight them (CORS)
            methods = [*methods, "OPTIONS"]
        super().__init__(path, _guarded(endpoint, access, token, json_body, methods),
                         methods=list(methods), name=endpoint.__name__)


def route(path: str, endpoint: Endpoint, methods: Sequence[str], *, access: Access,
          token: str | None = None, json_body: bool = False) -> AccessRoute:
    """One entry of the URL map: ``endpoint`` answers ``methods`` on ``path`` for callers
    that ``access`` admits (``token``: the signed token kind of a SIGNED_URL route;
    ``json_body``: POST bodies must be JSON)."""
    return AccessRoute(path, endpoint, methods=methods, access=access, token=token,
                       json_body=json_body)


def request_user(request: Request) -> User:
    """The user the guard authenticated for this request (a USER route's handler)."""
    return request_principal(request).user


def request_principal(request: Request) -> Principal:
    """The caller the guard authenticated, with their session when it was a cookie."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        # Only a route declared without USER access gets here: refuse rather than serve.
        raise Unauthenticated("this route does not authenticate its callers")
    return principal


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


async def authenticate(request: Request) -> Principal:
    """The caller behind the request's credentials; Unauthenticated when missing or wrong.

    A known credential is answered from the cache on the event loop where the auth-version
    check is cheap (SQLite): a hop to a worker thread costs a file_stream request or a
    history page a noticeable share of its time. Otherwise the database is read in a worker
    thread.
    """
    state: AppState = request.app.state.tracklet
    principal = state.auth.cached_user(request)
    if principal is None:
        principal = await to_thread.run_sync(state.auth.authenticate, request)
    return principal


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(request: Request, principal: Principal) -> None:
    """PermissionDenied for a write authenticated by a session cookie without the
    session's CSRF token in ``X-CSRF-Token``."""
    if principal.session is None or request.method in _SAFE_METHODS:
        return
    state: AppState = request.app.state.tracklet
    if not csrf_matches(state.storage.secret.csrf_key, principal.session,
                        request.headers.get(CSRF_HEADER)):
        raise PermissionDenied("missing or wrong CSRF token: send the tracklet_csrf "
                               "cookie's value in the X-CSRF-Token header")


def check_json_body(request: Request) -> None:
    """UnsupportedMediaType unless a POST says its body is JSON."""
    if request.method != "POST":
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("send the request body as JSON "
                                   "(Content-Type: application/json)")


def _guarded(endpoint: Endpoint, access: Access, token: str | None,
             json_body: bool, methods: Sequence[str]) -> Endpoint:
    if access is Access.PUBLIC:
        if not json_body:
            return endpoint

        async def public_route(request: Request) -> Response:
            check_json_body(request)
            return await endpoint(request)

        return functools.wraps(endpoint)(public_route)
    if access is Access.USER:

        async def user_route(request: Request) -> Response:
            principal = await authenticate(request)
            check_csrf(request, principal)
            if json_body:
                check_json_body(request)
            request.state.principal = principal
            return await endpoint(request)

        return functools.wraps(endpoint)(user_route)
    assert token is not None

    async def signed_route(request: Request) -> Response:
        state: AppState = request.app.state.tracklet
        request.state.claims = verify(state.signing_secret, request.query_params.get("t", ""),
                                      token)
        if request.method == "OPTIONS":
            return _preflight(request, methods)
        response = await endpoint(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return functools.wraps(endpoint)(signed_route)


def _preflight(request: Request, methods: Sequence[str]) -> Response:
    """A browser's CORS preflight of a signed URL (and `wandb verify`'s bucket CORS check).
    Any origin may use the URL: it is its own credential and is sent without cookies, so a
    page that holds it could fetch it through a server of its own anyway."""
    headers = {"Access-Control-Allow-Origin": "*",
               "Access-Control-Allow-Methods": ", ".join(m for m in methods
                                                         if m != "OPTIONS"),
               "Access-Control-Max-Age": "3600"}
    wanted = request.headers.get("access-control-request-headers")
    if wanted:
        headers["Access-Control-Allow-Headers"] = wanted
    return Response(status_code=204, headers=headers)
