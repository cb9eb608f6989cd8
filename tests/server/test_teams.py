"""Teams, organizations, visibility, the audit log and the per-caller limits, through the app
on both deployment kinds."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.app import InProcessApp
from tracklet.config import Settings
from tracklet.errors import Conflict, InvalidInput, NotFound, RateLimited
from tracklet.server.rate_limits import SignInLimiter, UserConcurrency
from tracklet.storage import Storage, credentials, teams
from tracklet.storage.metadata.tables import sign_in_failures

UPSERT = """mutation U($input: UpsertBucketInput!) { upsertBucket(input: $input) {
  bucket { id name } } }"""
PROJECT = """query($e: String!, $p: String!) { project(entityName: $e, name: $p) { name access
  entity { name isTeam organization { name } } } }"""


def _as(app: InProcessApp, key: str, query: str, variables: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    response = app.client.post("/graphql", json={"query": query, "variables": variables or {}},
                               auth=("api", key))
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def _log(app: InProcessApp, key: str, entity: str, project: str, name: str) -> dict[str, Any]:
    return _as(app, key, UPSERT, {"input": {"entityName": entity, "modelName": project,
                                            "name": name}})


def test_roles_and_visibility(app: InProcessApp) -> None:
    storage = app.storage
    keys = {n: storage.create_user(n)[1] for n in ("ada", "ben", "cy", "dee", "eli")}
    teams.create_org(storage, "acme")
    teams.set_org_member(storage, "acme", "dee", teams.parse_role("member"))
    teams.set_org_member(storage, "acme", "eli", teams.parse_role("admin"))
    teams.create_team(storage, "ml", org="acme", admin="ada")
    teams.set_team_member(storage, "ml", "ben", teams.parse_role("member"))
    teams.set_team_member(storage, "ml", "cy", teams.parse_role("viewer"))
    assert "errors" not in _log(app, keys["ada"], "ml", "open", "r1")
    assert "errors" not in _log(app, keys["ben"], "ml", "secret", "r1")

    def sees(who: str, project: str) -> bool:
        return _as(app, keys[who], PROJECT, {"e": "ml", "p": project})["data"]["project"] \
            is not None

    # TEAM (default): the team's roles and the org's admins; not org members.
    assert [sees(w, "open") for w in ("ada", "ben", "cy", "dee", "eli")] == [
        True, True, True, False, True]
    body = _as(app, keys["cy"], PROJECT, {"e": "ml", "p": "open"})["data"]["project"]
    assert body == {"name": "open", "access": "TEAM",
                    "entity": {"name": "ml", "isTeam": True, "organization": {"name": "acme"}}}
    # ORGANIZATION: also read by the org's members, who still cannot write.
    teams.set_project_access(storage, "ml", "open", teams.parse_visibility("ORGANIZATION"))
    assert sees("dee", "open")
    assert _log(app, keys["dee"], "ml", "open", "r2")["errors"][0]["message"] == \
        "entity 'ml' not found"
    # PRIVATE: the team's admins (and org admins) only, members may no longer write.
    ben = storage.create_user("ben")[0]
    with pytest.raises(NotFound):
        teams.set_project_access(storage, "ml", "secret", teams.parse_visibility("PRIVATE"),
                                 actor=ben)
    teams.set_project_access(storage, "ml", "secret", teams.parse_visibility("PRIVATE"))
    assert [sees(w, "secret") for w in ("ada", "ben", "cy", "dee", "eli")] == [
        True, False, False, False, True]
    assert "errors" in _log(app, keys["ben"], "ml", "secret", "r3")
    listed = _as(app, keys["ben"], """{ models(entityName: "ml") { edges { node { name } } } }""")
    assert [e["node"]["name"] for e in listed["data"]["models"]["edges"]] == ["open"]
    # Removing a member takes effect on their next request.
    teams.remove_team_member(storage, "ml", "cy")
    assert not sees("cy", "open")


def test_team_administration_rules(app: InProcessApp) -> None:
    storage = app.storage
    ada, _ = storage.create_user("ada")
    ben, _ = storage.create_user("ben")
    team = teams.create_team(storage, "ml", actor=ada)
    assert team.is_team and [m.user.username for m in teams.team_members(storage, "ml")] == [
        "ada"]
    # Names are shared by users and teams.
    with pytest.raises(Conflict):
        teams.create_team(storage, "ben", actor=ada)
    with pytest.raises(Conflict):
        storage.create_user("ml")
    # Only a team's admins manage it; a stranger is told it does not exist.
    with pytest.raises(NotFound, match="entity 'ml' not found"):
        teams.set_team_member(storage, "ml", "ben", teams.parse_role("admin"), actor=ben)
    teams.set_team_member(storage, "ml", "ben", teams.parse_role("member"), actor=ada)
    with pytest.raises(NotFound):
        teams.set_team_member(storage, "ml", "ben", teams.parse_role("admin"),
                              actor=credentials.with_grants(storage, ben))
    # A member may leave on their own.
    teams.remove_team_member(storage, "ml", "ben", actor=credentials.with_grants(storage, ben))
    with pytest.raises(NotFound):
        teams.remove_team_member(storage, "ml", "ben")
    with pytest.raises(InvalidInput, match="role must be one of"):
        teams.parse_role("owner")
    # Only server admins create organizations and users, or name another team admin.
    with pytest.raises(NotFound):
        teams.create_org(storage, "acme", actor=ada)
    with pytest.raises(NotFound):
        teams.create_user(storage, "zed", actor=ada)
    with pytest.raises(NotFound):
        teams.create_team(storage, "ml2", actor=ada, admin="ben")


def test_graphql_team_mutations(app: InProcessApp) -> None:
    _ada, ada = app.storage.create_user("ada")
    made = _as(app, ada, """mutation { createTeam(input: {teamName: "vision"}) {
        entity { name isTeam members { username role admin accountType } } } }""")
    assert made["data"]["createTeam"]["entity"] == {"name": "vision", "isTeam": True,
        "members": [{"username": "ada", "role": "admin", "admin": True,
                     "accountType": "USER"}]}
    service = _as(app, ada, """mutation { createServiceAccount(input: {entityName: "vision",
        description: "nightly eval"}) { user { name } } }""")
    assert service["data"]["createServiceAccount"]["user"]["name"] == "vision-nightly-eval"
    created = app.graphql("""mutation { createUser(input: {email: "kim@example.com"}) {
        user { username email admin } } }""")
    assert created["data"]["createUser"]["user"] == {
        "username": "kim", "email": "kim@example.com", "admin": False}
    refused = _as(app, ada, """mutation { createUser(input: {email: "x@example.com"}) {
        user { username } } }""")
    assert refused["errors"][0]["message"] == "user not found"
    invited = _as(app, ada, """mutation { createInvite(input: {entityName: "vision",
        email: "kim@example.com"}) { invite { name toUser { name } } } }""")
    assert invited["data"]["createInvite"]["invite"] == {"name": "kim",
                                                         "toUser": {"name": "kim"}}
    project = _as(app, ada, """mutation { upsertModel(input: {entityName: "vision",
        name: "det", description: "boxes", access: "ORGANIZATION"}) {
        project { name entityName description access } inserted } }""")
    assert project["data"]["upsertModel"] == {"project": {
        "name": "det", "entityName": "vision", "description": "boxes",
        "access": "ORGANIZATION"}, "inserted": True}
    bad = _as(app, ada, """mutation { upsertModel(input: {entityName: "vision", name: "det",
        access: "PUBLIC"}) { inserted } }""")
    assert "PRIVATE, TEAM, ORGANIZATION" in bad["errors"][0]["message"]
    users = _as(app, ada, """{ users(query: "") { edges { node { username } } } }""")
    assert {e["node"]["username"] for e in users["data"]["users"]["edges"]} == {
        "ada", "kim", "vision-nightly-eval"}
    viewer = _as(app, ada, "{ viewer { teams { edges { node { name } } } } }")
    assert [e["node"]["name"] for e in viewer["data"]["viewer"]["teams"]["edges"]] == [
        "ada", "vision"]


def test_audit_log(app: InProcessApp) -> None:
    _ada, ada = app.storage.create_user("ada")
    _as(app, ada, 'mutation { createTeam(input: {teamName: "vision"}) { entity { name } } }')
    key_name = credentials.list_api_keys(app.storage, "ada")[0].name
    credentials.revoke_api_key_for(app.storage, "ada", key_name)
    entries = app.client.get("/api/v1/audit", params={"limit": 10}).json()["entries"]
    seen = [(e["actor"], e["action"], e["target"]) for e in entries]
    assert seen[:3] == [(None, "key.revoke", "ada"), ("ada", "team.create", "vision"),
                        (None, "user.create", "ada")]
    older = app.client.get("/api/v1/audit", params={"before": entries[0]["id"]}).json()
    assert older["entries"][0]["id"] == entries[1]["id"]
    _bob, bob = app.storage.create_user("bob")
    refused = app.client.get("/api/v1/audit", auth=("api", bob))
    assert refused.status_code == 404
    assert app.client.get("/api/v1/audit", params={"limit": "0"}).status_code == 400


def test_sign_in_is_rate_limited_per_username_and_address(app: InProcessApp) -> None:
    credentials.set_password(app.storage, "admin", "correct horse battery")
    limit = app.settings.sign_in_attempts
    for _ in range(limit):
        wrong = app.client.post("/api/v1/auth/login", auth=None,
                                json={"username": "admin", "password": "wrong password"})
        assert wrong.status_code == 401
    blocked = app.client.post("/api/v1/auth/login", auth=None,
                              json={"username": "admin", "password": "correct horse battery"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert "too many failed sign-ins" in blocked.json()["errors"][0]["message"]
    # Another username from the same address is not held back.
    _ = app.storage.create_user("kim")
    credentials.set_password(app.storage, "kim", "another good one")
    assert app.client.post("/api/v1/auth/login", auth=None, json={
        "username": "kim", "password": "another good one"}).status_code == 200
    app.client.cookies.clear()


def test_sign_in_limiter_window_and_reset(storage_settings: Settings) -> None:
    # Two Storage objects on one database stand for two server processes.
    with contextlib.closing(Storage.open(storage_settings)) as one, \
            contextlib.closing(Storage.open(storage_settings)) as two:
        first = SignInLimiter(one.db, attempts=2, window_s=0.5)
        second = SignInLimiter(two.db, attempts=2, window_s=0.5)
        first.failed("u", "a")
        second.failed("u", "a")
        for limiter in (first, second):
            with pytest.raises(RateLimited, match="try again in 1 s"):
                limiter.check("u", "a")
        first.check("u", "b")  # another address
        first.check("v", "a")  # another user
        second.succeeded("u", "a")
        first.check("u", "a")
        first.failed("u", "a")
        first.failed("u", "a")
        with pytest.raises(RateLimited):
            second.check("u", "a")
        time.sleep(0.6)  # the window passed
        second.check("u", "a")
        first.failed("w", "a")  # a new failure clears what left the window
        with one.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(sign_in_failures)
                                ).scalar() == 1


def test_user_concurrency_limit() -> None:
    slots = UserConcurrency(limit=2)
    entered, release = threading.Barrier(3), threading.Event()

    def hold() -> None:
        with slots.slot(7):
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()
    with pytest.raises(RateLimited, match="graphql_max_concurrent_per_user"), slots.slot(7):
        pass
    with slots.slot(8):  # another user is not held back
        pass
    release.set()
    for t in threads:
        t.join()
    with slots.slot(7):
        pass


def test_graphql_over_the_concurrency_limit_is_429(app: InProcessApp) -> None:
    state = app.client.app.state.tracklet  # type: ignore[attr-defined]
    admin = app.storage.create_user("admin")[0]
    with state.graphql_slots.slot(admin.id):
        state.graphql_slots.limit = 1
        try:
            answer = app.client.post("/graphql", json={"query": "{ viewer { username } }"})
        finally:
            state.graphql_slots.limit = app.settings.graphql_max_concurrent_per_user
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert app.client.post("/graphql", json={
        "query": "{ viewer { username } }"}).status_code == 200
