"""Keys and signed URLs: the admin bootstrap, ``tracklet user create`` against a running
server, what needs a key, and download/upload URLs that authorise themselves."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv, make_api, sdk_environment, start_server
from tests.e2e.storage_view import opened, run_path, stored_run
from tracklet.server.signing import sign
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

VIEWER = {"query": "query Viewer { viewer { id entity username } }"}


def _viewer(server: LiveServer, key: str) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json=VIEWER, auth=("api", key), timeout=30)


def _tracklet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracklet", *args], capture_output=True,
                          text=True, timeout=120)


def test_first_start_creates_admin_and_prints_its_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    server = start_server(data_dir, env={"TRACKLET_ADMIN_KEY": ""})
    try:
        match = re.search(r"Created user 'admin' with API key:\s+(\S+)", server.log())
        assert match, server.log()
        key = match.group(1)
        assert f"Sign in at {server.url}" in server.log()
        r = _viewer(server, key)
        assert r.status_code == 200
        assert r.json()["data"]["viewer"]["username"] == "admin"
        # The same key signs a browser in.
        signed_in = httpx.post(f"{server.url}/api/v1/auth/login", json={"api_key": key})
        assert signed_in.status_code == 200 and signed_in.json()["user"]["username"] == "admin"
        assert "tracklet_session" in signed_in.cookies
    finally:
        server.stop()
    again = start_server(data_dir, env={"TRACKLET_ADMIN_KEY": ""})
    try:
        assert "Created user" not in again.log(), "the key is printed on first start only"
        assert _viewer(again, key).status_code == 200
    finally:
        again.stop()


def test_admin_key_from_environment_is_seeded(live_server: LiveServer) -> None:
    r = _viewer(live_server, live_server.key)
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["entity"] == "admin"
    assert live_server.key not in live_server.log(), "a key from the environment is not logged"


def test_a_key_made_in_the_browser_works_in_the_sdk_until_revoked_elsewhere(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        login = browser.post("/api/v1/auth/login", json={"api_key": live_server.key})
        assert login.status_code == 200
        csrf = login.json()["csrf_token"]
        assert browser.post("/api/v1/auth/keys", json={"name": "notebook"}).status_code == 403
        made = browser.post("/api/v1/auth/keys", json={"name": "notebook"},
                            headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
    key = made.json()["key"]
    api = make_api(replace(live_server, key=key), live_server.data_dir / "nb-api", monkeypatch)
    assert api.viewer.username == "admin" and "notebook" in api.viewer.api_keys
    # Revoked by another process (the CLI on the same data dir): refused at once.
    revoked = _tracklet("key", "revoke", "notebook", "--data-dir", str(live_server.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    assert _viewer(live_server, key).status_code == 401
    assert _viewer(live_server, live_server.key).status_code == 200


def test_user_created_while_server_runs_logs_in_at_once(live_server: LiveServer,
                                                        tmp_path: Path) -> None:
    key = "carol-" + "c" * 44
    assert _viewer(live_server, key).status_code == 401  # unknown before (and not cached)
    made = _tracklet("user", "create", "carol", "--key", key,
                     "--data-dir", str(live_server.data_dir))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == key
    r = _viewer(live_server, key)
    assert r.status_code == 200 and r.json()["data"]["viewer"]["username"] == "carol"

    generated = _tracklet("user", "create", "dave", "--data-dir", str(live_server.data_dir))
    assert generated.returncode == 0, generated.stderr
    dave_key = generated.stdout.strip()
    assert _viewer(live_server, dave_key).json()["data"]["viewer"]["entity"] == "dave"

    env = sdk_environment(live_server, tmp_path)
    env["WANDB_API_KEY"] = key
    sdk = SdkEnv(live_server, tmp_path, env)
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="carols")
        run.log({"a": 1})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    assert entity == "carol"
    stored = stored_run(live_server, entity, project, run_id)
    assert stored.run.username == "carol"
    assert stored.run.state == "finished"


def test_user_may_not_write_to_another_entity(live_server: LiveServer) -> None:
    key = "eve-" + "e" * 44
    assert _tracklet("user", "create", "eve", "--key", key,
                     "--data-dir", str(live_server.data_dir)).returncode == 0
    with httpx.Client(base_url=live_server.url, auth=("api", key), timeout=30) as c:
        r = c.post("/graphql", json={"query": """mutation {
            upsertBucket(input: {name: "intrude1", modelName: "p", entityName: "admin"}) {
                bucket { id } } }"""})
        # Refused as if the entity did not exist.
        assert r.status_code == 404
        assert "entity 'admin' not found" in r.json()["errors"][0]["message"]
        r = c.post("/files/admin/p/intrude1/file_stream", json={})
        assert r.status_code == 404
    with opened(live_server) as storage, storage.db.read() as conn:
        assert run_repo.find_run_by_path(conn, "admin", "p", "intrude1") is None


def test_only_health_endpoints_are_open(live_server: LiveServer) -> None:
    for path in ("/health", "/healthz", "/ready"):
        assert httpx.get(live_server.url + path).status_code == 200
    assert httpx.post(live_server.url + "/graphql", json=VIEWER).status_code == 401
    assert httpx.post(live_server.url + "/files/admin/p/r/file_stream", json={}).status_code == 401
    # The SDK's telemetry probe must see a 404, or it starts streaming telemetry at us.
    assert httpx.post(live_server.url + "/sdk/otel/v1/metrics").status_code == 404


def test_signed_urls_authorise_themselves_and_expire(sdk: SdkEnv) -> None:
    (sdk.workdir / "secret.txt").write_bytes(b"top secret bytes\n")
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="signed")
        wandb.save("secret.txt", policy="now")
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.files["secret.txt"].blob_key is not None
    with opened(sdk.server) as storage:
        secret = storage.signing_secret()
    base = f"{sdk.server.url}/storage/file/secret.txt?t="

    claims = {"k": "file", "r": stored.run.id, "n": "secret.txt"}
    good = sign(secret, claims, ttl_s=60)
    r = httpx.get(base + good)  # no credentials at all
    assert r.status_code == 200 and r.content == b"top secret bytes\n"

    expired = sign(secret, claims, ttl_s=-5)
    r = httpx.get(base + expired)
    assert r.status_code == 403 and "expired" in r.json()["errors"][0]["message"]

    body, _, mac = good.partition(".")
    tampered_claims = orjson.dumps({**claims, "n": "../../tracklet.db", "exp": 2**40})
    forged_body = base64.urlsafe_b64encode(tampered_claims).rstrip(b"=").decode()
    for token in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}xx", f"{body}.", "", "..",
                  f"{body}.{mac}é", "%%%"):
        r = httpx.get(base + token)
        assert r.status_code == 403, (token, r.status_code, r.text)
        assert "signature" in r.json()["errors"][0]["message"]

    wrong_kind = sign(secret, {**claims, "j": "n" * 24}, ttl_s=60)
    r = httpx.put(f"{sdk.server.url}/storage/upload/secret.txt?t={wrong_kind}", content=b"evil")
    assert r.status_code == 403 and "another kind" in r.json()["errors"][0]["message"]
    assert stored_run(sdk.server, entity, project, run_id).blob_bytes["secret.txt"] == (
        b"top secret bytes\n")


def test_viewer_lists_key_names_and_entity_members(live_server: LiveServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    key = "frank-" + "f1" * 22
    second = "frank-" + "f2" * 22
    for k in (key, second):
        made = _tracklet("user", "create", "frank", "--key", k,
                         "--data-dir", str(live_server.data_dir))
        assert made.returncode == 0, made.stderr
    api = make_api(replace(live_server, key=key), live_server.data_dir / "frank-api", monkeypatch)
    viewer = api.viewer
    assert viewer.username == "frank" and viewer.teams == ["frank"]
    # Names are non-secret prefixes of each key, in the order the keys were added.
    assert viewer.api_keys == ["frank-f1f1", "frank-f2f2"]
    assert all(k.startswith(n) for k, n in zip((key, second), viewer.api_keys, strict=True))
    with opened(live_server) as storage, storage.db.read() as conn:
        user = accounts.get_user_by_name(conn, "frank")
        assert user is not None
        assert [n for _, n in accounts.list_api_keys(conn, user.id)] == viewer.api_keys
    team = api.team("frank")
    assert [(m.username, m.account_type) for m in team.members] == [("frank", "USER")]
    # A user's key list holds only their own keys.
    admin_api = make_api(live_server, live_server.data_dir / "admin-api", monkeypatch)
    assert admin_api.viewer.username == "admin"
    assert "frank-f1f1" not in admin_api.viewer.api_keys
