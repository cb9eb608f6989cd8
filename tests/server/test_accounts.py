"""Accounts through the app: key hashes, revocation across processes, sign-in sessions,
cookies, CSRF on cookie writes, the GraphQL key mutations and the security headers.

Each runs on both deployment kinds (the ``app`` fixture); "another process" is a second
app over the same database and data dir, with a cache of its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import replace
from http.cookies import SimpleCookie

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.support.app import InProcessApp, in_process_app
from tracklet.domain.keys import hash_api_key, legacy_key_hash
from tracklet.server.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tracklet.server.headers import CONTENT_CSP, PAGE_CSP, SecurityHeaders
from tracklet.storage import Storage, credentials
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata.tables import api_keys

VIEWER = {"query": "{ viewer { username } }"}
UPSERT = {"query": 'mutation { upsertBucket(input: {name: "csrf0001", modelName: "web"}) '
                   "{ bucket { name } } }"}


@pytest.fixture
def other(app: InProcessApp) -> Iterator[InProcessApp]:
    """A second server process on the same database, data dir and blobs."""
    with in_process_app(app.settings) as second:
        yield second


def _viewer(client: TestClient, key: str) -> int:
    return client.post("/graphql", json=VIEWER, auth=("api", key)).status_code


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    parsed: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        parsed.update({name: cookie for name in cookie})
    return parsed


def _login(app: InProcessApp, **body: str) -> httpx.Response:
    response = app.client.post("/api/v1/auth/login", json=body, auth=None)
    app.client.cookies.clear()
    return response


def _as_session(token: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    return headers


def test_keys_are_stored_as_keyed_hashes(app: InProcessApp) -> None:
    key = credentials.create_api_key_for(app.storage, "admin", "laptop")
    with app.storage.db.read() as conn:
        stored = set(conn.execute(api_keys.select().with_only_columns(api_keys.c.key_hash))
                     .scalars())
    assert legacy_key_hash(key) not in stored and legacy_key_hash(app.key) not in stored
    assert hashlib.sha256(key.encode()).hexdigest() not in stored
    assert hash_api_key(app.storage.secret.pepper, key) in stored
    assert _viewer(app.client, key) == 200


def test_a_revoked_key_is_refused_at_once_by_every_process(app: InProcessApp,
                                                            other: InProcessApp) -> None:
    key = credentials.create_api_key_for(app.storage, "admin", "ci")
    for client in (app.client, other.client):
        assert _viewer(client, key) == 200  # now cached by both processes
    admin = app.storage.create_user("admin")[0]
    credentials.revoke_api_key(app.storage, admin, name="ci")
    for client in (other.client, app.client):
        response = client.post("/graphql", json=VIEWER, auth=("api", key))
        assert response.status_code == 401, response.text
        assert "www-authenticate" not in response.headers
    assert _viewer(other.client, other.key) == 200, "other keys are unaffected"


def test_keys_from_before_keyed_hashes_are_rekeyed_and_keep_working(app: InProcessApp) -> None:
    old_key = "old-" + "o" * 44
    with app.storage.db.write() as conn:
        user = accounts.get_user_by_name(conn, "admin")
        assert user is not None
        conn.execute(api_keys.insert().values(user_id=user.id, key_hash=legacy_key_hash(old_key),
                                              created_at=time.time(), name="old-oooo",
                                              hash_scheme=accounts.LEGACY_SCHEME))
    assert credentials.user_for_key(app.storage, old_key) is None, "unusable until re-keyed"
    Storage.open(app.settings).close()  # the next server start
    with app.storage.db.read() as conn:
        row = conn.execute(api_keys.select().where(api_keys.c.name == "old-oooo")).one()
    assert row.hash_scheme == accounts.HMAC_SCHEME
    assert row.key_hash == hash_api_key(app.storage.secret.pepper, old_key)
    assert _viewer(app.client, old_key) == 200


def test_sign_in_with_a_password_sets_safe_cookies(app: InProcessApp) -> None:
    app.storage.create_user("ann")
    credentials.set_password(app.storage, "ann", "correct horse")
    for body in ({"username": "ann", "password": "wrong horse"},
                 {"username": "nobody", "password": "correct horse"},
                 {"api_key": "tlk-" + "x" * 48}):
        refused = _login(app, **body)
        assert refused.status_code == 401, body
        assert "set-cookie" not in refused.headers and "www-authenticate" not in refused.headers
    assert _login(app, username="ann").status_code == 400
    response = _login(app, username="ann", password="correct horse")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "ann"
    cookies = _set_cookies(response)
    session, csrf = cookies[SESSION_COOKIE][SESSION_COOKIE], cookies[CSRF_COOKIE][CSRF_COOKIE]
    assert session["httponly"] and not csrf["httponly"]
    for morsel in (session, csrf):
        assert morsel["samesite"] == "lax" and morsel["path"] == "/"
        assert not morsel["secure"], "plain http: a Secure cookie would never come back"
        assert int(morsel["max-age"]) == app.settings.session_ttl_s
    assert csrf.value == response.json()["csrf_token"]
    me = app.client.get("/api/v1/auth/me", headers=_as_session(session.value), auth=None)
    assert me.status_code == 200
    assert me.json()["username"] == "ann" and me.json()["signed_in_with"] == "session"
    assert me.json()["csrf_token"] == csrf.value
    with app.storage.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM sessions").scalars().all()
    assert session.value not in stored and len(stored) == 1


def test_the_first_start_key_signs_the_admin_in_and_cookies_are_secure_over_https(
        app: InProcessApp) -> None:
    behind_proxy = app.client.post("https://testserver/api/v1/auth/login",
                                   json={"api_key": app.key}, auth=None)
    app.client.cookies.clear()
    assert behind_proxy.status_code == 200, behind_proxy.text
    assert behind_proxy.json()["user"] == {"username": "admin", "email": None, "admin": True,
                                           "entity": "admin"}
    cookies = _set_cookies(behind_proxy)
    assert cookies[SESSION_COOKIE][SESSION_COOKIE]["secure"]
    assert cookies[CSRF_COOKIE][CSRF_COOKIE]["secure"]
    assert behind_proxy.headers["strict-transport-security"].startswith("max-age=")


def test_signing_out_ends_the_session_in_every_process(app: InProcessApp,
                                                       other: InProcessApp) -> None:
    body = _login(app, api_key=app.key).json()
    token = _set_cookies(_login(app, api_key=app.key))[SESSION_COOKIE][SESSION_COOKIE].value
    for client in (app.client, other.client):
        assert client.get("/api/v1/auth/me", headers=_as_session(token),
                          auth=None).status_code == 200
    csrf = app.client.get("/api/v1/auth/me", headers=_as_session(token),
                          auth=None).json()["csrf_token"]
    assert csrf != body["csrf_token"], "each session has its own CSRF token"
    assert app.client.post("/api/v1/auth/logout", headers=_as_session(token),
                           auth=None).status_code == 403, "sign-out is a write: CSRF applies"
    out = app.client.post("/api/v1/auth/logout", headers=_as_session(token, csrf), auth=None)
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    cleared = _set_cookies(out)
    assert cleared[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
    for client in (other.client, app.client):
        response = client.get("/api/v1/auth/me", headers=_as_session(token), auth=None)
        assert response.status_code == 401
        assert "sign in again" in response.json()["errors"][0]["message"]


def test_an_expired_session_is_refused(app_settings: object) -> None:
    from tracklet.config import Settings

    assert isinstance(app_settings, Settings)
    with in_process_app(replace(app_settings, session_ttl_s=1)) as app:
        token = _set_cookies(_login(app, api_key=app.key))[SESSION_COOKIE][SESSION_COOKIE].value
        me = app.client.get("/api/v1/auth/me", headers=_as_session(token), auth=None)
        assert me.status_code == 200  # and now cached
        time.sleep(1.1)
        me = app.client.get("/api/v1/auth/me", headers=_as_session(token), auth=None)
        assert me.status_code == 401, me.text


def test_a_password_change_ends_the_users_sessions(app: InProcessApp) -> None:
    app.storage.create_user("bo")
    credentials.set_password(app.storage, "bo", "first password")
    token = _set_cookies(_login(app, username="bo", password="first password"))[
        SESSION_COOKIE][SESSION_COOKIE].value
    assert app.client.get("/api/v1/auth/me", headers=_as_session(token),
                          auth=None).status_code == 200
    credentials.set_password(app.storage, "bo", "second password")
    assert app.client.get("/api/v1/auth/me", headers=_as_session(token),
                          auth=None).status_code == 401


def test_cookie_graphql_writes_need_the_csrf_token_and_key_writes_do_not(
        app: InProcessApp) -> None:
    login = _login(app, api_key=app.key)
    token, csrf = _set_cookies(login)[SESSION_COOKIE][SESSION_COOKIE].value, \
        login.json()["csrf_token"]
    refused = app.client.post("/graphql", json=UPSERT, headers=_as_session(token), auth=None)
    assert refused.status_code == 403 and "CSRF" in refused.text
    with app.storage.db.read() as conn:
        assert accounts.find_project(conn, "admin", "web") is None, "nothing written"
    done = app.client.post("/graphql", json=UPSERT, headers=_as_session(token, csrf), auth=None)
    assert done.status_code == 200 and done.json()["data"]["upsertBucket"]["bucket"]
    # An API key needs no token, even with a session cookie beside it.
    with_key = app.client.post("/graphql", json=UPSERT, headers=_as_session(token))
    assert with_key.status_code == 200, with_key.text
    # A wrong key is refused, whatever cookie comes with it.
    assert app.client.post("/graphql", json=VIEWER, headers=_as_session(token, csrf),
                           auth=("api", "tlk-" + "z" * 48)).status_code == 401


def test_named_keys_through_the_json_api(app: InProcessApp) -> None:
    made = app.client.post("/api/v1/auth/keys", json={"name": "wandb login"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    key = made.json()["key"]
    assert _viewer(app.client, key) == 200
    dup = app.client.post("/api/v1/auth/keys", json={"name": "wandb login"})
    assert dup.status_code == 409
    me = app.client.get("/api/v1/auth/me").json()
    assert "wandb login" in [k["name"] for k in me["api_keys"]] and key not in str(me)
    assert me["signed_in_with"] == "api_key" and "csrf_token" not in me
    assert app.client.delete("/api/v1/auth/keys/wandb login").status_code == 200
    assert _viewer(app.client, key) == 401
    for bad in ({"name": ""}, {"name": "x" * 65}, {"name": 3}, {}):
        assert app.client.post("/api/v1/auth/keys", json=bad).status_code == 400, bad


GENERATE = """mutation GenerateApiKey($description: String) {
  result: generateApiKey(input: {description: $description}) {
    apiKey { id name description } } }"""
DELETE = """mutation DeleteApiKey($id: String!) {
  result: deleteApiKey(input: {id: $id}) { success } }"""


def test_graphql_generate_and_delete_api_key(app: InProcessApp) -> None:
    body = app.graphql(GENERATE, {"description": "notebook"})
    api_key = body["data"]["result"]["apiKey"]
    key = api_key["name"]  # as on W&B: the new key itself, this once
    assert api_key["description"] == "notebook" and _viewer(app.client, key) == 200
    listed = app.graphql("{ viewer { apiKeys { edges { node { id name } } } } }")
    nodes = [e["node"] for e in listed["data"]["viewer"]["apiKeys"]["edges"]]
    assert {"id": api_key["id"], "name": "notebook"} in nodes and key not in str(nodes)
    _user, eve_key = app.storage.create_user("eve")
    eve = app.client.post("/graphql", json={"query": DELETE, "variables": {"id": api_key["id"]}},
                          auth=("api", eve_key))
    assert eve.json()["data"]["result"] is None and _viewer(app.client, key) == 200
    assert app.graphql(DELETE, {"id": api_key["id"]})["data"]["result"] == {"success": True}
    assert _viewer(app.client, key) == 401


def test_security_headers_on_every_response(app: InProcessApp) -> None:
    responses = [app.client.get("/health"), app.client.post("/graphql", json=VIEWER),
                 app.client.post("/graphql", json=VIEWER, auth=None),
                 app.client.get("/no/such/route")]
    for response in responses:
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert headers["content-security-policy"] == CONTENT_CSP
        assert "strict-transport-security" not in headers, "plain http"


def test_html_pages_get_the_strict_page_policy_and_stored_files_never_do() -> None:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    app = SecurityHeaders(Starlette(routes=[Route("/p", page), Route("/storage/file/x", page)]))
    with TestClient(app, base_url="https://testserver") as client:
        csp = client.get("/p").headers["content-security-policy"]
        assert csp == PAGE_CSP and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        stored = client.get("/storage/file/x")
        assert stored.headers["content-security-policy"] == CONTENT_CSP
        assert stored.headers["strict-transport-security"] == "max-age=31536000"
