"""The access matrix: every kind of caller x every GraphQL operation the SDK sends
(``shared/protocol/operations``, nested fields included, as the SDK writes them) and every
REST route that names an entity, against a team's run, project and artifact.

The callers: an organization admin, the team's admin, a member, a viewer, a member of
another team, an outsider, a revoked key and no key. What each must see:

* no key, revoked key: 401 for everything;
* a member of another team and an outsider: every answer is the answer for a team that does
  not exist (same status, same body once the names are swapped), carries none of the team's
  data, and changes nothing stored;
* a viewer: reads the run, project and artifact; every write the SDK can send changes
  nothing stored;
* a member: reads and logs runs; may not change a project's visibility or the members;
* the team's admin and the organization's admin: also manage members and visibility.

The registry rows add an organization member: the organization's registries
(``wandb-registry-*`` projects of its entity) are listed and read by its members, the
restricted ones by its admins only, and made or linked into by its admins only.

Each world is built once per deployment kind (SQLite + local, PostgreSQL + S3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    OperationDefinitionNode,
    parse,
    type_from_ast,
)

from tests.conftest import APP_BACKENDS
from tests.server.test_artifact_loaders import _log_as
from tests.support.app import InProcessApp, in_process_app
from tracklet.config import Settings
from tracklet.server.graphql import build_schema
from tracklet.server.graphql.ids import encode_id
from tracklet.storage import credentials, teams
from tracklet.storage.metadata import runs as run_repo

OPERATIONS = Path("/work/shared/protocol/operations/operations.json")
TEAM, GHOST, OTHER, ORG = "teamzq", "ghostzq", "otherzq", "orgzq"
SECRET = "zq-secret-config-value"
UPSERT = """mutation U($input: UpsertBucketInput!) { upsertBucket(input: $input) {
  bucket { id name } } }"""
# Operations left out of the sweep, with why: their subject is a name that is global by
# nature (a new team or user is refused when any entity has the name, on W&B too).
NOT_SWEPT = {"CreateTeam": "names are global", "CreateUserFromAdmin": "names are global"}
# Operations on the caller's own account (a new key each time), compared for leaks only.
OWN = {"GenerateApiKey"}
CALLERS = ["org_admin", "team_admin", "member", "viewer", "other_team", "outsider",
           "revoked", "no_key"]


@dataclass
class World:
    """A team with a run, a project and an artifact, and a key per caller."""

    app: InProcessApp
    keys: dict[str, str]
    run_id: str
    artifact_id: str


def _load_operations(mutations: bool = True) -> list[tuple[str, str]]:
    if not OPERATIONS.exists():
        pytest.skip(f"{OPERATIONS} not present")
    ops = json.loads(OPERATIONS.read_text())
    return [(o["name"], o["documents"][0]) for o in ops
            if o["documents"] and o["name"] not in NOT_SWEPT
            and (mutations or o["kind"] == "query")]


@pytest.fixture(scope="module", params=APP_BACKENDS)
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("matrix") / "data"
    settings = Settings(data_dir=data_dir)
    cleanup = None
    if request.param == "postgresql+s3":
        pg = request.getfixturevalue("postgres_server")
        s3 = request.getfixturevalue("s3_server")
        url = pg.create_database()
        settings = Settings(data_dir=data_dir, db=url, blobs=f"s3://{s3.create_bucket()}/m",
                            s3_endpoint_url=s3.endpoint_url)
        cleanup = lambda: pg.drop_database(url)  # noqa: E731
    try:
        with in_process_app(settings) as app:
            yield _build(app)
    finally:
        if cleanup is not None:
            cleanup()


def _build(app: InProcessApp) -> World:
    storage = app.storage
    keys = {}
    for name in ("org_admin", "team_admin", "member", "viewer", "other_team", "outsider",
                 "revoked"):
        keys[name] = storage.create_user(name.replace("_", "-"))[1]
    teams.create_org(storage, ORG)
    teams.set_org_member(storage, ORG, "org-admin", teams.parse_role("admin"))
    teams.create_team(storage, TEAM, org=ORG, admin="team-admin")
    teams.set_team_member(storage, TEAM, "member", teams.parse_role("member"))
    teams.set_team_member(storage, TEAM, "viewer", teams.parse_role("viewer"))
    teams.create_team(storage, OTHER, admin="other-team")
    revoked = [k.name for k in credentials.list_api_keys(storage, "revoked")]
    credentials.revoke_api_key_for(storage, "revoked", revoked[0])
    body = app.client.post("/graphql", auth=("api", keys["team_admin"]), json={
        "query": UPSERT, "variables": {"input": {
            "entityName": TEAM, "modelName": "p", "name": "r1",
            "config": json.dumps({"secret": {"value": SECRET}})}}}).json()
    assert "errors" not in body, body
    run_id = body["data"]["upsertBucket"]["bucket"]["id"]
    stream = app.client.post(f"/files/{TEAM}/p/r1/file_stream",
                             auth=("api", keys["team_admin"]),
                             json={"files": {"wandb-history.jsonl": {
                                 "offset": 0, "content": ['{"_step": 0, "loss": 0.123456}']}}})
    assert stream.status_code == 200, stream.text
    app.client.post("/graphql", auth=("api", keys["team_admin"]), json={
        "query": UPSERT, "variables": {"input": {
            "entityName": TEAM, "modelName": "p", "name": "writer"}}}).raise_for_status()
    artifact_id = _log_as(app, keys["team_admin"], TEAM, "p", "zqdata", 0)
    keys["no_key"] = ""
    return World(app, keys, run_id, artifact_id)


# -- filling in the SDK's documents -----------------------------------------------------------

_SCHEMA = build_schema()
_RUN_WORDS = {"run", "runname", "runid", "bucketname"}
_ENTITY_WORDS = {"entity", "entityname", "organization", "orgname", "teamname"}
_PROJECT_WORDS = {"project", "projectname", "model", "modelname"}


def _value(op_name: str, var: str, gtype: Any, target: dict[str, str], depth: int = 0) -> Any:
    while isinstance(gtype, GraphQLNonNull):
        gtype = gtype.of_type
    if isinstance(gtype, GraphQLList):
        return []
    if isinstance(gtype, GraphQLInputObjectType):
        if depth > 2:
            return None
        return {fname: _value(op_name, fname, field.type, target, depth + 1)
                for fname, field in gtype.fields.items()}
    low = var.lower()
    name = getattr(gtype, "name", "")
    if low in _ENTITY_WORDS:
        return target["entity"]
    if low in _PROJECT_WORDS or (low == "name" and "Project" in op_name):
        return target["project"]
    if low in _RUN_WORDS or low == "name":
        return target["run"]
    if name == "ID" or low.endswith("id"):
        return target["artifact_id"] if "rtifact" in op_name else target["run_id"]
    if name in ("Int", "Int64"):
        return 1
    if name == "Float":
        return 1.0
    if name == "Boolean":
        return False
    if name == "JSONString":
        return "{}"
    if hasattr(gtype, "values"):  # an enum: its first value
        return next(iter(gtype.values))
    return "x"


def _variables(op_name: str, document: str, target: dict[str, str]) -> dict[str, Any]:
    op = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    out = {}
    for definition in op.variable_definitions or ():
        gtype = type_from_ast(_SCHEMA, definition.type)
        out[definition.variable.name.value] = _value(
            op_name, definition.variable.name.value, gtype, target)
    return out


def _targets(world: World) -> tuple[dict[str, str], dict[str, str]]:
    real = {"entity": TEAM, "project": "p", "run": "r1", "run_id": world.run_id,
            "artifact_id": world.artifact_id}
    ghost = {"entity": GHOST, "project": "p", "run": "r1",
             "run_id": encode_id("Run", 987_654_321),
             "artifact_id": encode_id("Artifact", 987_654_321)}
    return real, ghost


def _normal(text: str, target: dict[str, str]) -> str:
    for key in ("run_id", "artifact_id"):
        text = text.replace(target[key], f"<{key}>")
    text = text.replace(target["entity"], "<entity>")
    # Refusals echo the id the caller sent, as a missing object's answer does.
    text = re.sub(r"(artifact|run) \d+ not found", r"\1 <n> not found", text)
    return re.sub(r"[0-9a-f]{12,}", "<hex>", text)


def _send(world: World, caller: str, document: str, variables: dict[str, Any]) -> Any:
    key = world.keys[caller]
    return world.app.client.post("/graphql", json={"query": document, "variables": variables},
                                 auth=("api", key) if key else None)


def _rest(target: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    e = target["entity"]
    return [
        ("POST", f"/files/{e}/p/r1/file_stream",
         {"json": {"files": {"wandb-history.jsonl": {
             "offset": 1, "content": ['{"_step": 1, "loss": 9.0}']}}}}),
        ("GET", "/api/v1/runs/history", {"params": {"run": f"{e}/p/r1", "keys": "loss"}}),
        ("GET", "/api/v1/runs/series", {"params": {"runs": f"{e}/p/r1", "keys": "loss"}}),
        ("GET", f"/artifactsV2/default/{e}/p/zqdata/1/{'0' * 32}/a.csv", {}),
        ("GET", f"/artifacts/{e}/{'0' * 32}", {}),
    ]


def _snapshot(world: World) -> tuple[Any, ...]:
    """What a refused caller must not change: the team's run, its history and artifact."""
    with world.app.storage.db.read() as conn:
        run = run_repo.find_run_by_path(conn, TEAM, "p", "r1")
        assert run is not None
        runs = run_repo.count_runs(conn, run.project_id)
    body = _send(world, "team_admin", """query($id: ID!) { artifact(id: $id) { state
        aliases { alias } } }""", {"id": world.artifact_id}).json()
    return (run.config, run.summary, run.state, run.tags, run.notes, run.history_line_count,
            run.display_name, runs, json.dumps(body, sort_keys=True))


@pytest.mark.parametrize("caller", CALLERS)
def test_access_matrix(world: World, caller: str) -> None:
    real, ghost = _targets(world)
    before = _snapshot(world)
    failures: list[str] = []
    # The team's roles read first; the mutations they may make (a delete among them) are
    # left out of their sweep, so the world stays the same for the next caller.
    may_write = caller in ("org_admin", "team_admin", "member")
    if caller not in ("other_team", "outsider", "revoked", "no_key"):
        failures += _reads(world, caller)
    for op_name, document in _load_operations(mutations=not may_write):
        got = _send(world, caller, document, _variables(op_name, document, real))
        if got.status_code >= 500:
            failures.append(f"{op_name}: {got.status_code} {got.text[:200]}")
            continue
        if caller in ("revoked", "no_key"):
            if got.status_code != 401:
                failures.append(f"{op_name}: {got.status_code} without a valid key")
            continue
        if caller in ("other_team", "outsider"):
            if SECRET in got.text:
                failures.append(f"{op_name}: leaked the team's data")
            if op_name in OWN:
                continue
            missing = _send(world, caller, document, _variables(op_name, document, ghost))
            if (got.status_code, _normal(got.text, real)) != (
                    missing.status_code, _normal(missing.text, ghost)):
                failures.append(f"{op_name}: answered {got.status_code} {got.text[:300]} "
                                f"but for a missing team {missing.status_code} "
                                f"{missing.text[:300]}")
    for method, path, kwargs in _rest(real):
        key = world.keys[caller]
        auth = ("api", key) if key else None
        got = world.app.client.request(method, path, auth=auth, **kwargs)
        if got.status_code >= 500:
            failures.append(f"{method} {path}: {got.status_code}")
        elif caller in ("revoked", "no_key"):
            if got.status_code != 401:
                failures.append(f"{method} {path}: {got.status_code} without a valid key")
        elif caller in ("other_team", "outsider"):
            g_method, g_path, g_kwargs = next(r for r in _rest(ghost) if r[0] == method and
                                              r[1].split("/")[1] == path.split("/")[1]
                                              and r[1].count("/") == path.count("/"))
            missing = world.app.client.request(g_method, g_path, auth=auth, **g_kwargs)
            if (got.status_code, _normal(got.text, real)) != (
                    missing.status_code, _normal(missing.text, ghost)):
                failures.append(f"{method} {path}: {got.status_code} {got.text[:200]} vs "
                                f"missing {missing.status_code} {missing.text[:200]}")
        elif caller == "viewer" and method == "POST" and got.status_code != 404:
            failures.append(f"{method} {path}: a viewer wrote ({got.status_code})")
        elif method == "GET" and "/api/v1/runs/" in path and got.status_code != 200:
            failures.append(f"{method} {path}: the team's {caller} could not read "
                            f"({got.status_code})")
    if caller in ("viewer", "other_team", "outsider", "revoked", "no_key") \
            and _snapshot(world) != before:
        failures.append("stored data changed")
    assert not failures, "\n".join(failures)


_READS = {
    "run": ("""query($e: String!) { project(entityName: $e, name: "p") { run(name: "r1") {
        config } } }""", lambda b: SECRET in json.dumps(b)),
    "runs": ("""query($e: String!) { project(entityName: $e, name: "p") { runs(first: 10) {
        edges { node { name config } } } } }""", lambda b: SECRET in json.dumps(b)),
    "history": ("""query($e: String!) { project(entityName: $e, name: "p") { run(name: "r1") {
        history(samples: 10) } } }""", lambda b: "0.123456" in json.dumps(b)),
    "members": ("""query($e: String!) { entity(name: $e) { isTeam members { username role }
        } }""", lambda b: "team-admin" in json.dumps(b)),
}


def _reads(world: World, caller: str) -> list[str]:
    """A team's roles read the run, its history, and the team's members."""
    failures = []
    for what, (document, seen) in _READS.items():
        body = _send(world, caller, document, {"e": TEAM}).json()
        if "errors" in body or not seen(body):
            failures.append(f"{caller} could not read the {what}: {body}")
    return failures


@pytest.mark.parametrize("caller", CALLERS)
def test_writes_and_administration_by_role(world: World, caller: str) -> None:
    """Logging a run takes a member; the team's members and its projects' visibility take an
    admin (the team's or the organization's); refusals look like a missing team."""
    key = world.keys[caller]
    auth = ("api", key) if key else None
    may_write = caller in ("org_admin", "team_admin", "member")
    may_admin = caller in ("org_admin", "team_admin")
    logged = world.app.client.post("/graphql", auth=auth, json={
        "query": UPSERT, "variables": {"input": {
            "entityName": TEAM, "modelName": "p", "name": f"by-{caller}"}}})
    if caller in ("revoked", "no_key"):
        assert logged.status_code == 401
        return
    assert ("errors" not in logged.json()) is may_write, logged.text
    if not may_write:
        assert logged.status_code == 404
        assert f"entity '{TEAM}' not found" in logged.json()["errors"][0]["message"]
    access = world.app.client.post("/graphql", auth=auth, json={
        "query": """mutation($e: String!) { upsertModel(input: {entityName: $e, name: "p",
            access: "PRIVATE"}) { project { access } } }""", "variables": {"e": TEAM}})
    assert ("errors" not in access.json()) is may_admin, access.text
    invite = world.app.client.post("/graphql", auth=auth, json={
        "query": """mutation($e: String!) { createInvite(input: {entityName: $e,
            username: "outsider"}) { invite { name } } }""", "variables": {"e": TEAM}})
    assert ("errors" not in invite.json()) is may_admin, invite.text
    if may_admin:
        # Private now: a member no longer sees the project; put it back.
        hidden = _send(world, "member", _READS["run"][0], {"e": TEAM}).json()
        assert hidden["data"]["project"] is None
        teams.set_project_access(world.app.storage, TEAM, "p",
                                 teams.parse_visibility("TEAM"))
        teams.remove_team_member(world.app.storage, TEAM, "outsider")


# -- the registry rows ----------------------------------------------------------------------

REGISTRY_CALLERS = [*CALLERS, "org_member"]
_ORG_REGISTRIES = """query($o: String!) { organization(name: $o) { orgEntity { projects {
    edges { node { name access } } } } } }"""
_REGISTRY_ARTIFACT = """query($o: String!, $p: String!) { project(entityName: $o, name: $p) {
    artifact(name: "zq-linked:v0") { id digest } } }"""
_REGISTRY_CREATE = """mutation($o: String!, $n: String!) { upsertModel(input: {entityName: $o,
    name: $n, access: "RESTRICTED"}) { inserted project { name access } } }"""
_REGISTRY_LINK = """mutation($o: String!, $id: ID!, $c: String!) { linkArtifact(input: {
    artifactID: $id, entityName: $o, projectName: "wandb-registry-open",
    artifactPortfolioName: $c}) { versionIndex } }"""


@pytest.fixture(scope="module")
def registry_world(world: World) -> World:
    """``world`` with an organization member and two registries of the organization, an
    open one and a restricted one, each holding a link to the team's artifact."""
    storage = world.app.storage
    world.keys["org_member"] = storage.create_user("org-member")[1]
    teams.set_org_member(storage, ORG, "org-member", teams.parse_role("member"))
    for name, access in (("open", "PRIVATE"), ("closed", "RESTRICTED")):
        made = _send(world, "org_admin", """mutation($o: String!, $n: String!, $a: String!) {
            upsertModel(input: {entityName: $o, name: $n, access: $a}) { inserted } }""",
                     {"o": ORG, "n": f"wandb-registry-{name}", "a": access}).json()
        assert made["data"]["upsertModel"]["inserted"] is True, made
        linked = _send(world, "org_admin", """mutation($o: String!, $id: ID!, $p: String!) {
            linkArtifact(input: {artifactID: $id, entityName: $o, projectName: $p,
            artifactPortfolioName: "zq-linked"}) { versionIndex } }""",
                       {"o": ORG, "id": world.artifact_id,
                        "p": f"wandb-registry-{name}"}).json()
        assert "errors" not in linked, linked
    return world


@pytest.mark.parametrize("caller", REGISTRY_CALLERS)
def test_registry_access_by_role(registry_world: World, caller: str) -> None:
    """Organization registries are listed and read by the organization's members, restricted
    ones by its admins only; creating and linking into them take an organization admin;
    everyone else (team roles included: a team is not the organization) sees nothing."""
    world = registry_world
    if caller in ("revoked", "no_key"):
        got = _send(world, caller, _ORG_REGISTRIES, {"o": ORG})
        assert got.status_code == 401
        return
    listed = _send(world, caller, _ORG_REGISTRIES, {"o": ORG}).json()
    assert "errors" not in listed, listed
    org = listed["data"]["organization"]
    entity = org and org["orgEntity"]
    names = sorted(e["node"]["name"] for e in entity["projects"]["edges"]) if entity else []
    expected = {"org_admin": ["wandb-registry-closed", "wandb-registry-open"],
                "org_member": ["wandb-registry-open"]}.get(caller, [])
    assert names == expected
    if caller == "org_admin":
        accesses = {e["node"]["name"]: e["node"]["access"]
                    for e in entity["projects"]["edges"]}
        assert accesses["wandb-registry-open"] == "PRIVATE"  # the SDK's "organization"
        assert accesses["wandb-registry-closed"] == "RESTRICTED"

    for registry, readers in (("open", {"org_admin", "org_member"}), ("closed", {"org_admin"})):
        body = _send(world, caller, _REGISTRY_ARTIFACT,
                     {"o": ORG, "p": f"wandb-registry-{registry}"}).json()
        project = body["data"]["project"]
        read = project is not None and project["artifact"] is not None
        assert read is (caller in readers), (registry, body)
    # A registry reader reads the linked artifact by id, though not the team's run.
    by_id = _send(world, caller, """query($id: ID!) { artifact(id: $id) { id
        createdBy { ... on Run { config } } } }""", {"id": world.artifact_id}).json()
    reads_artifact = caller in ("org_admin", "team_admin", "member", "viewer", "org_member")
    assert (by_id["data"]["artifact"] is not None) is reads_artifact, by_id
    if caller == "org_member":
        assert by_id["data"]["artifact"]["createdBy"] is None
        assert SECRET not in json.dumps(by_id)

    created = _send(world, caller, _REGISTRY_CREATE,
                    {"o": ORG, "n": f"wandb-registry-by-{caller.replace('_', '-')}"}).json()
    assert ("errors" not in created) is (caller == "org_admin"), created
    if caller != "org_admin":
        assert "not found" in created["errors"][0]["message"]
    linked = _send(world, caller, _REGISTRY_LINK,
                   {"o": ORG, "id": world.artifact_id, "c": f"by-{caller}"}).json()
    assert ("errors" not in linked) is (caller == "org_admin"), linked


def test_registries_live_only_in_an_organization_entity(registry_world: World) -> None:
    """A ``wandb-registry-*`` project is refused outside an organization's entity, and a link
    into a registry that does not exist does not create it."""
    world = registry_world
    outside = _send(world, "team_admin", _REGISTRY_CREATE,
                    {"o": TEAM, "n": "wandb-registry-rogue"}).json()
    assert "organization's entity" in outside["errors"][0]["message"]
    missing = _send(world, "org_admin", """mutation($o: String!, $id: ID!) { linkArtifact(
        input: {artifactID: $id, entityName: $o, projectName: "wandb-registry-nope",
        artifactPortfolioName: "x"}) { versionIndex } }""",
                    {"o": ORG, "id": world.artifact_id}).json()
    assert "not found" in missing["errors"][0]["message"]
    listed = _send(world, "org_admin", _ORG_REGISTRIES, {"o": ORG}).json()
    names = [e["node"]["name"] for e in
             listed["data"]["organization"]["orgEntity"]["projects"]["edges"]]
    assert "wandb-registry-nope" not in names
