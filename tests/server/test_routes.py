"""Every route in ``ROUTES`` declares its access, and the guard enforces it before the handler.

The table below holds one well-formed request per route (a new route fails
:func:`test_every_route_has_a_sample` until it is added). Each is sent

* without credentials, with wrong or malformed ones (an unknown session cookie too):
  ``Access.USER`` routes answer 401 without a ``WWW-Authenticate`` challenge (a browser
  would prompt), ``Access.SIGNED_URL`` routes 403, whatever the body (refused before the
  handler reads it), and never a 2xx or a 500;
* with the admin's key (basic and Bearer) or a valid signed token: the handler's own answer;
* with the admin's session cookie: the handler's answer for GET, and for any other method
  403 without the session's CSRF token and the handler's answer with it;
* a route taking a JSON body answers 415 to a form or text/plain POST.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.routing import Match

from tests.support.app import ADMIN_KEY, InProcessApp
from tracklet.domain.artifacts import ArtifactState, ManifestEntry
from tracklet.ingest.artifacts import CreateRequest, create_artifact
from tracklet.server.access import Access, AccessRoute, route
from tracklet.server.auth import CSRF_HEADER, SESSION_COOKIE
from tracklet.server.rest import health
from tracklet.server.routes import ROUTES
from tracklet.server.signing import sign
from tracklet.storage.history.export.table import Export, add_export
from tracklet.storage.metadata.accounts import get_user_by_name
from tracklet.storage.metadata.artifacts import insert_files, update_artifact
from tracklet.storage.metadata.runs import get_run_by_path, store_run_file

RUN_ID = "<run id>"
ARTIFACT_ID = "<artifact id>"
EXPORTED_RUN_ID = "<exported run id>"
NONCE = "<fresh nonce>"
BLOB_KEY = "tests/routes/blob"
BLOB_BYTES = b"route test bytes\n"
NO_MD5 = "0" * 32
ROW = '{"_step": 0, "loss": 0.5}'


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@dataclass(frozen=True)
class Sample:
    """A well-formed request to one route, and its answer once access is granted."""

    method: str
    url: str
    ok: int = 200
    #: The JSON body, or a function making one (a body that must differ per request).
    json: Any = None
    content: bytes | None = None
    #: Claims of a valid token (SIGNED_URL routes); RUN_ID, ARTIFACT_ID and NONCE are filled
    #: in.
    claims: dict[str, Any] = field(default_factory=dict)
    #: Part of the handler's error message when ``ok`` is an error status.
    message: str = ""

    def body(self) -> bytes | None:
        """The request body of this sample."""
        if self.json is None:
            return self.content
        return orjson.dumps(self.json() if callable(self.json) else self.json)


_key_names = (f"routes-key-{i}" for i in itertools.count())


def _new_key_name() -> dict[str, str]:
    return {"name": next(_key_names)}


SAMPLES: dict[str, Sample] = {
    "/graphql": Sample("POST", "/graphql", json={"query": "{ viewer { username } }"}),
    "/files/{entity}/{project}/{run}/file_stream": Sample(
        "POST", "/files/admin/routes/r1/file_stream",
        json={"files": {"wandb-history.jsonl": {"offset": 0, "content": [ROW]}}}),
    "/storage/upload/{name:path}": Sample(
        "PUT", "/storage/upload/notes.txt", content=b"notes",
        claims={"k": "up", "r": RUN_ID, "n": "notes.txt", "j": NONCE}),
    "/storage/file/{name:path}": Sample(
        "GET", "/storage/file/blob.txt", claims={"k": "file", "r": RUN_ID, "n": "blob.txt"}),
    "/storage/artifact/{name:path}": Sample(
        "PUT", "/storage/artifact/a.txt", content=b"artifact",
        claims={"k": "aup", "a": ARTIFACT_ID, "m": _md5_b64(b"artifact"), "j": NONCE}),
    "/storage/artifact-part/{name:path}": Sample(
        "PUT", "/storage/artifact-part/a.txt", ok=404, content=b"part",
        claims={"k": "apt", "u": "no-such-upload", "p": 1, "j": NONCE},
        message="multipart upload not found"),
    "/storage/manifest/{name:path}": Sample(
        "PUT", "/storage/manifest/wandb_manifest.json", ok=404, content=b"{}",
        claims={"k": "amf", "a": 987654, "m": _md5_b64(b"{}"), "j": NONCE}, message="not found"),
    "/storage/artifact-file/{name:path}": Sample(
        "GET", "/storage/artifact-file/blob.txt",
        claims={"k": "afile", "a": ARTIFACT_ID, "p": "blob.txt"}),
    "/artifactsV2/{region}/{entity}/{project}/{collection}/{rest:path}": Sample(
        "GET", f"/artifactsV2/default/admin/routes/coll/1/{NO_MD5}/a.txt", ok=404,
        message="no artifact file"),
    "/artifacts/{entity}/{md5}": Sample("GET", f"/artifacts/admin/{NO_MD5}", ok=404,
                                        message="no artifact file"),
    "/storage/export/{name:path}": Sample(
        "GET", "/storage/export/h.parquet", claims={"k": "hist", "r": EXPORTED_RUN_ID, "p": 0}),
    "/api/v1/runs/series": Sample("GET", "/api/v1/runs/series?runs=admin/routes/r1&keys=loss"),
    "/api/v1/runs/history": Sample(
        "GET", "/api/v1/runs/history?run=admin/routes/r1&keys=loss&format=json"),
    "/api/v1/runs/console": Sample("GET", "/api/v1/runs/console?run=admin/routes/r1"),
    "/api/v1/runs/file": Sample("GET", "/api/v1/runs/file?run=admin/routes/r1&name=blob.txt"),
    "/api/v1/query": Sample("POST", "/api/v1/query",
                            json={"sql": "SELECT count(*) AS n FROM runs"}),
    "/api/v1/auth/login": Sample("POST", "/api/v1/auth/login", json={"api_key": ADMIN_KEY}),
    "/api/v1/auth/logout": Sample("POST", "/api/v1/auth/logout"),
    "/api/v1/auth/me": Sample("GET", "/api/v1/auth/me"),
    "/api/v1/auth/keys": Sample("POST", "/api/v1/auth/keys", ok=201, json=_new_key_name),
    "/api/v1/auth/keys/{name}": Sample("DELETE", "/api/v1/auth/keys/no-such-key", ok=404,
                                       message="has no key"),
    "/api/v1/audit": Sample("GET", "/api/v1/audit?limit=5"),
    "/health": Sample("GET", "/health"),
    "/healthz": Sample("GET", "/healthz"),
    "/ready": Sample("GET", "/ready"),
    # Admin users only (the samples' key is the admin's); see tests/server/test_metrics.py.
    "/metrics": Sample("GET", "/metrics"),
    # The web UI's shell and assets (public: the pages' data comes from the USER routes). An
    # asset that was never built answers 404 whether or not the front end is built here.
    "/static/{name:path}": Sample("GET", "/static/assets/not-built-here.js", ok=404),
    "/": Sample("GET", "/"),
    "/login": Sample("GET", "/login"),
    "/authorize": Sample("GET", "/authorize"),
    "/query": Sample("GET", "/query"),
    "/{entity:entity}/{project}": Sample("GET", "/admin/routes"),
    "/{entity:entity}/{project}/runs/{run}": Sample("GET", "/admin/routes/runs/r1"),
    "/{entity:entity}/{project}/sweeps/{sweep}": Sample("GET", "/admin/routes/sweeps/s1"),
    "/{entity:entity}/{project}/artifacts/{type}/{name}/{version}": Sample(
        "GET", "/admin/routes/artifacts/dataset/data/v0"),
}

#: Credentials that identify nobody.
BAD_AUTHORIZATION = [
    "Basic " + base64.b64encode(b"api:local-" + b"x" * 40).decode(),
    "Bearer local-" + "y" * 40,
    "Basic %%%not-base64",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Bearer ",
    "Token abc",
]


def _routes(access: Access) -> list[AccessRoute]:
    return [r for r in ROUTES if r.access is access]


def _ids(routes: list[AccessRoute]) -> list[str]:
    return [r.path for r in routes]


@dataclass(frozen=True)
class World:
    """What the samples refer to: a run with history, and a blob held by one of its files,
    by a committed artifact and by another run's history export."""

    run_id: int
    artifact_id: int
    exported_run_id: int
    secret: bytes


@pytest.fixture
def world(app: InProcessApp) -> World:
    r = app.client.post("/graphql", json={
        "query": "mutation { upsertBucket(input: {name: \"r1\", modelName: \"routes\"}) "
                 "{ inserted } }"})
    assert r.status_code == 200, r.text
    r = app.client.post("/graphql", json={
        "query": "mutation { upsertBucket(input: {name: \"r2\", modelName: \"routes\"}) "
                 "{ inserted } }"})
    assert r.status_code == 200, r.text
    r = app.client.post("/files/admin/routes/r1/file_stream",
                        json={"files": {"wandb-history.jsonl": {"offset": 0, "content": [ROW]}}})
    assert r.status_code == 200, r.text
    app.storage.blobs.put(BLOB_KEY, io.BytesIO(BLOB_BYTES))
    md5, size = _md5_b64(BLOB_BYTES), len(BLOB_BYTES)
    with app.storage.db.read() as conn:
        run_id = get_run_by_path(conn, "admin", "routes", "r1").id
        exported_run_id = get_run_by_path(conn, "admin", "routes", "r2").id
        admin = get_user_by_name(conn, "admin")
    assert admin is not None
    artifact = create_artifact(app.storage, admin, CreateRequest(
        entity="admin", project="routes", run_name=None, type_name="dataset",
        collection="routes", digest="d" * 32))
    with app.storage.db.write() as conn:
        store_run_file(conn, run_id, "blob.txt", BLOB_KEY, md5, size, "text/plain")
        insert_files(conn, artifact.id, [(ManifestEntry("blob.txt", md5, size), BLOB_KEY)])
        update_artifact(conn, artifact.id, state=ArtifactState.COMMITTED.value,
                        committed_at=time.time())
        add_export(conn, Export(run_id=exported_run_id, part=0, blob_key=BLOB_KEY, size_bytes=size,
                                row_count=1, min_step=0, max_step=0, key_stats="{}",
                                created_at=time.time()))
    return World(run_id, artifact.id, exported_run_id, app.storage.signing_secret())


def _token(world: World, claims: dict[str, Any], ttl_s: int = 60) -> str:
    values: dict[str, Any] = {RUN_ID: world.run_id, ARTIFACT_ID: world.artifact_id,
                              EXPORTED_RUN_ID: world.exported_run_id,
                              NONCE: secrets.token_hex(12)}
    filled = {k: values.get(v, v) if isinstance(v, str) else v for k, v in claims.items()}
    return sign(world.secret, filled, ttl_s)


def _with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}t={token}"


def _send(app: InProcessApp, method: str, url: str, sample: Sample,
          headers: dict[str, str] | None = None, body: bytes | None = None,
          auth: Any = None) -> httpx.Response:
    """One request; ``auth=None`` sends no credentials (the client's admin key is dropped).
    A JSON sample goes with its Content-Type unless ``headers`` name one."""
    if body is None:
        body = sample.body()
    headers = dict(headers or {})
    if sample.json is not None and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/json"
    return app.client.request(method, url, content=body, headers=headers, auth=auth)


def _assert_refused(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, (what, response.status_code, response.text)
    if response.request.method != "HEAD":
        assert response.json()["errors"][0]["message"], what
    if status == 401:
        # A challenge makes browsers prompt, then send the typed key with every request.
        assert "www-authenticate" not in response.headers, what


def test_every_route_has_a_sample() -> None:
    assert all(isinstance(r, AccessRoute) for r in ROUTES)
    assert sorted(r.path for r in ROUTES) == sorted(SAMPLES)
    for r in ROUTES:
        sample = SAMPLES[r.path]
        assert r.methods is not None and sample.method in r.methods, r.path
        scope = {"type": "http", "path": sample.url.partition("?")[0], "method": sample.method}
        assert r.matches(scope)[0] is Match.FULL, r.path
        if r.access is Access.SIGNED_URL:
            assert sample.claims["k"] == r.token, r.path


def test_public_routes_answer_without_credentials(app: InProcessApp) -> None:
    public = _routes(Access.PUBLIC)
    assert {r.path for r in public} == {
        "/health", "/healthz", "/ready", "/api/v1/auth/login", "/static/{name:path}", "/",
        "/login", "/authorize", "/query", "/{entity:entity}/{project}",
        "/{entity:entity}/{project}/runs/{run}", "/{entity:entity}/{project}/sweeps/{sweep}",
        "/{entity:entity}/{project}/artifacts/{type}/{name}/{version}"}
    for r in public:
        sample = SAMPLES[r.path]
        response = _send(app, sample.method, sample.url, sample)
        assert response.status_code == sample.ok, (r.path, response.text)


def test_user_routes_refuse_missing_or_wrong_keys(app: InProcessApp) -> None:
    user_routes = _routes(Access.USER)
    assert user_routes
    for r in user_routes:
        sample = SAMPLES[r.path]
        assert r.methods is not None
        for method in sorted(r.methods):
            # Junk bodies too: the guard refuses before the handler reads anything.
            for body in (None, b"not json {"):
                response = _send(app, method, sample.url, sample, body=body)
                _assert_refused(response, 401, f"{method} {r.path} without a key")
            for header in BAD_AUTHORIZATION:
                response = _send(app, method, sample.url, sample,
                                 headers={"Authorization": header})
                _assert_refused(response, 401, f"{method} {r.path} with {header!r}")
            response = _send(app, method, sample.url, sample,
                             headers={"Cookie": f"{SESSION_COOKIE}=not-a-session"})
            _assert_refused(response, 401, f"{method} {r.path} with an unknown session")


def test_user_routes_accept_a_valid_key(app: InProcessApp, world: World) -> None:
    for r in _routes(Access.USER):
        sample = SAMPLES[r.path]
        for auth in (("api", app.key), None):
            headers = None if auth else {"Authorization": f"Bearer {app.key}"}
            response = _send(app, sample.method, sample.url, sample, headers=headers,
                             auth=auth)
            _assert_answered(response, sample, r.path)
    viewer = app.graphql("{ viewer { username } }")
    assert viewer["data"]["viewer"]["username"] == "admin"


def _assert_answered(response: httpx.Response, sample: Sample, what: str) -> None:
    """The handler ran and gave the sample's answer."""
    assert response.status_code == sample.ok, (what, response.status_code, response.text)
    if sample.message:
        assert sample.message in response.json()["errors"][0]["message"], what


def _session(app: InProcessApp) -> tuple[str, str]:
    """Sign the admin in with their key: (session token, CSRF token)."""
    response = app.client.post("/api/v1/auth/login", json={"api_key": app.key}, auth=None)
    assert response.status_code == 200, response.text
    token, csrf = response.cookies[SESSION_COOKIE], response.json()["csrf_token"]
    app.client.cookies.clear()  # each request below names its cookie itself
    return token, csrf


def test_user_routes_accept_a_session_cookie_and_writes_need_its_csrf_token(
        app: InProcessApp, world: World) -> None:
    token, csrf = _session(app)
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    # Signing out ends the session the other routes use: last.
    user_routes = sorted(_routes(Access.USER), key=lambda r: r.path == "/api/v1/auth/logout")
    for r in user_routes:
        sample = SAMPLES[r.path]
        if sample.method in ("GET", "HEAD"):
            _assert_answered(_send(app, sample.method, sample.url, sample, headers=cookie),
                             sample, r.path)
            continue
        for wrong in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: csrf[:-2] + "xx"},
                      {CSRF_HEADER: token}):
            response = _send(app, sample.method, sample.url, sample,
                             headers={**cookie, **wrong})
            _assert_refused(response, 403, f"{sample.method} {r.path} by cookie, {wrong}")
            assert "CSRF" in response.json()["errors"][0]["message"]
        response = _send(app, sample.method, sample.url, sample,
                         headers={**cookie, CSRF_HEADER: csrf})
        _assert_answered(response, sample, f"{r.path} by cookie with the CSRF token")
    # The last one signed out: the cookie now identifies nobody.
    response = _send(app, "GET", "/api/v1/auth/me", SAMPLES["/api/v1/auth/me"], headers=cookie)
    _assert_refused(response, 401, "a session after signing out")


def test_json_routes_refuse_other_content_types(app: InProcessApp) -> None:
    json_routes = [r for r in ROUTES if r.json_body]
    assert {r.path for r in json_routes} >= {"/graphql", "/api/v1/auth/login",
                                            "/api/v1/auth/keys"}
    token, csrf = _session(app)
    for r in json_routes:
        sample = SAMPLES[r.path]
        for content_type in ("application/x-www-form-urlencoded", "text/plain",
                             "multipart/form-data; boundary=x", None):
            headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
            for credentials in ({}, {"Cookie": f"{SESSION_COOKIE}={token}",
                                     CSRF_HEADER: csrf}):
                response = _send(app, "POST", sample.url, sample,
                                 headers={**headers, **credentials},
                                 auth=None if r.access is Access.PUBLIC or credentials
                                 else ("api", app.key))
                _assert_refused(response, 415, f"{r.path} as {content_type}")
        # Parameters after the media type are fine.
        response = _send(app, "POST", sample.url, sample,
                         headers={"Content-Type": "application/json; charset=utf-8"},
                         auth=None if r.access is Access.PUBLIC else ("api", app.key))
        _assert_answered(response, sample, f"{r.path} as JSON with a charset")


def test_signed_url_routes_refuse_bad_or_missing_signatures(app: InProcessApp,
                                                             world: World) -> None:
    signed = _routes(Access.SIGNED_URL)
    assert signed
    for r in signed:
        sample = SAMPLES[r.path]
        assert r.methods is not None
        good = _token(world, sample.claims)
        body, _, mac = good.partition(".")
        other_kind = "hist" if r.token != "hist" else "get"
        bad_tokens = {
            "forged MAC": f"{body}.{mac[:-2]}xx",
            "no MAC": f"{body}.",
            "empty": "",
            "junk": "%%%",
            "another key": sign(b"not the secret", dict(sample.claims), 60),
            "another kind": _token(world, {**sample.claims, "k": other_kind}),
            "expired": _token(world, sample.claims, ttl_s=-5),
        }
        for method in sorted(r.methods):
            for what, token in bad_tokens.items():
                response = _send(app, method, _with_token(sample.url, token), sample)
                _assert_refused(response, 403, f"{method} {r.path}: {what}")
            # No token at all, with or without the admin's API key: a key opens no blob URL.
            for auth in (None, ("api", app.key)):
                response = _send(app, method, sample.url, sample, auth=auth)
                _assert_refused(response, 403, f"{method} {r.path} without a token")


def test_signed_url_routes_accept_a_valid_signature_without_the_database(
        app: InProcessApp, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_db() -> bytes:
        raise AssertionError("signed URLs are verified with the secret read at startup")

    monkeypatch.setattr(app.storage, "signing_secret", no_db)
    for r in _routes(Access.SIGNED_URL):
        sample = SAMPLES[r.path]
        url = _with_token(sample.url, _token(world, sample.claims))
        response = _send(app, sample.method, url, sample)
        _assert_answered(response, sample, r.path)
        if sample.method == "GET":
            assert response.content == BLOB_BYTES, r.path
    export = SAMPLES["/storage/export/{name:path}"]
    head = _send(app, "HEAD", _with_token(export.url, _token(world, export.claims)), export)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(BLOB_BYTES))


def test_signed_url_routes_answer_cors(app: InProcessApp, world: World) -> None:
    """Browsers (and `wandb verify`'s bucket check) preflight a signed URL: any origin may
    use it, without credentials; the answer itself carries the origin header too."""
    origin = {"Origin": "http://elsewhere.example"}
    for r in _routes(Access.SIGNED_URL):
        sample = SAMPLES[r.path]
        url = _with_token(sample.url, _token(world, sample.claims))
        preflight = app.client.options(url, auth=None, headers={
            **origin, "Access-Control-Request-Method": sample.method,
            "Access-Control-Request-Headers": "content-type, content-md5"})
        assert preflight.status_code == 204, (r.path, preflight.text)
        assert preflight.headers["access-control-allow-origin"] == "*", r.path
        assert sample.method in preflight.headers["access-control-allow-methods"], r.path
        assert preflight.headers["access-control-allow-headers"] == "content-type, content-md5"
        assert "access-control-allow-credentials" not in preflight.headers, r.path
        response = _send(app, sample.method, url, sample, headers=origin)
        _assert_answered(response, sample, r.path)
        if response.status_code < 400:  # errors are answered by the one error mapper
            assert response.headers["access-control-allow-origin"] == "*", r.path
        stale = _with_token(sample.url, _token(world, sample.claims, ttl_s=-5))
        _assert_refused(app.client.options(stale, auth=None, headers=origin), 403,
                        f"preflight of {r.path} with an expired token")


def test_a_signed_url_route_names_its_token_kind() -> None:
    with pytest.raises(ValueError, match="token kind"):
        route("/x", health.health, ["GET"], access=Access.SIGNED_URL)
    with pytest.raises(ValueError, match="token kind"):
        route("/x", health.health, ["GET"], access=Access.USER, token="get")
