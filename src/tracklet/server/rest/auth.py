"""Sign-in for people: ``/api/v1/auth/...`` (JSON), what the web pages call.

* ``POST /api/v1/auth/login`` ``{"username", "password"}`` or ``{"api_key"}``: starts a
  server-side session and sets two cookies: ``tracklet_session`` (the session token;
  HttpOnly, SameSite=Lax, Secure over https) and ``tracklet_csrf`` (the session's CSRF token,
  readable by the page, to echo in ``X-CSRF-Token`` on every write). Answers the user and
  the CSRF token.
* ``POST /api/v1/auth/logout``: ends the session (every server process refuses it from the
  next request) and clears both cookies.
* ``GET /api/v1/auth/me``: the signed-in user and the names of their keys.
* ``POST /api/v1/auth/keys`` ``{"name"}``: a new named API key, answered once (what W&B's
  ``/authorize`` page does for ``wandb login``); ``DELETE /api/v1/auth/keys/{name}``
  revokes one of the caller's keys.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tracklet.domain.records import User
from tracklet.errors import InvalidInput, Unauthenticated
from tracklet.server.access import request_principal
from tracklet.server.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState
from tracklet.storage import credentials

#: Sign-in and key requests are small; anything bigger is not one.
_MAX_BODY = 16 * 1024


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.tracklet
    return state


def is_https(request: Request) -> bool:
    """Whether the browser reached us over https: the request's scheme (uvicorn sets it from
    X-Forwarded-Proto for the proxies in ``forwarded_allow_ips``) or an https public URL."""
    return (request.url.scheme == "https"
            or _state(request).settings.public_url.startswith("https://"))


def _string(body: Any, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value


def _user_json(user: User) -> dict[str, Any]:
    return {"username": user.username, "email": user.email, "admin": user.admin,
            "entity": user.entity}


def _sign_in(state: AppState, body: Any, address: str) -> tuple[User, str]:
    username, password = _string(body, "username"), _string(body, "password")
    api_key = _string(body, "api_key")
    # Failures are counted per username and address (key sign-ins under one name).
    who = username if username is not None else "(api key)"
    state.sign_ins.check(who, address)
    try:
        if api_key is not None and username is None and password is None:
            user = credentials.user_for_key(state.storage, api_key)
            if user is None:
                raise Unauthenticated("invalid API key")
        elif username is not None and password is not None and api_key is None:
            user = credentials.check_password(state.storage, username, password)
        else:
            raise InvalidInput('send {"username", "password"} or {"api_key"}')
    except Unauthenticated:
        state.sign_ins.failed(who, address)
        raise
    state.sign_ins.succeeded(who, address)
    return user, credentials.start_session(state.storage, user, state.settings.session_ttl_s)


async def login(request: Request) -> Response:
    """Start a session from a password or an API key; set the session and CSRF cookies."""
    state = _state(request)
    body = await read_json(request, _MAX_BODY)
    address = request.client.host if request.client is not None else ""
    user, token = await to_thread.run_sync(_sign_in, state, body, address)
    csrf = csrf_token(state.storage.secret.csrf_key, token)
    response = JSONResponse({"user": _user_json(user), "csrf_token": csrf},
                            headers={"Cache-Control": "no-store"})
    secure, max_age = is_https(request), state.settings.session_ttl_s
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", secure=secure,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure,
                        httponly=False, samesite="lax")
    return response


async def logout(request: Request) -> Response:
    """End the caller's session (if they came with one) and clear the cookies."""
    principal = request_principal(request)
    if principal.session is not None:
        await to_thread.run_sync(credentials.end_session, _state(request).storage,
                                 principal.session)
    response = JSONResponse({"signed_out": principal.session is not None})
    secure = is_https(request)
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly,
                               samesite="lax")
    return response


def _me(state: AppState, user: User) -> dict[str, Any]:
    keys = credentials.list_api_keys(state.storage, user.username)
    return {**_user_json(user),
            "api_keys": [{"name": k.name, "created_at": k.created_at} for k in keys]}


async def me(request: Request) -> Response:
    """The signed-in user, their keys' names, and how they are signed in."""
    state = _state(request)
    principal = request_principal(request)
    body = await to_thread.run_sync(_me, state, principal.user)
    body["signed_in_with"] = "session" if principal.session is not None else "api_key"
    if principal.session is not None:
        body["csrf_token"] = csrf_token(state.storage.secret.csrf_key, principal.session)
    return JSONResponse(body)


async def create_key(request: Request) -> Response:
    """A new API key for the caller, named by ``{"name"}``; the key is in this answer only."""
    state = _state(request)
    body = await read_json(request, _MAX_BODY)
    name = _string(body, "name")
    if name is None:
        raise InvalidInput('send {"name": "<a name for the key>"}')
    user = request_principal(request).user
    key = await to_thread.run_sync(credentials.create_api_key, state.storage, user, name)
    return JSONResponse({"name": name.strip(), "key": key}, status_code=201,
                        headers={"Cache-Control": "no-store"})


async def delete_key(request: Request) -> Response:
    """Revoke the caller's key called ``{name}``; refused by every process at once."""
    user = request_principal(request).user
    name = request.path_params["name"]
    await to_thread.run_sync(lambda: credentials.revoke_api_key(
        _state(request).storage, user, name=name))
    return JSONResponse({"revoked": name})
