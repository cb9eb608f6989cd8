"""The team setup: tracklet on PostgreSQL + S3, scaled out to two stateless server processes.

Two ``tracklet server`` processes, started at the same moment against one empty PostgreSQL
database and one S3 bucket (moto on loopback), each with its own empty data dir. The real
wandb SDK logs a run with files through server A; everything is read back through
``wandb.Api()`` on both servers and straight from PostgreSQL and the bucket.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
from tests.e2e.conftest import LiveServer, SdkEnv, make_api, sdk_environment, start_server
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo

pytestmark = [pytest.mark.postgresql, pytest.mark.s3, pytest.mark.xdist_group("team-backends")]

PROJECT = "team"
WEIGHTS_SEED = 1234
WEIGHTS_SIZE = 9 * 1024 * 1024 + 17  # over the 8 MiB multipart threshold


def weights() -> bytes:
    return random.Random(WEIGHTS_SEED).randbytes(WEIGHTS_SIZE)


@dataclass
class Team:
    """Two servers sharing one PostgreSQL database and one bucket."""

    a: LiveServer
    b: LiveServer
    s3: S3Server
    bucket: str


@dataclass
class LoggedRun:
    entity: str
    run_id: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{PROJECT}/{self.run_id}"


@pytest.fixture(scope="module")
def team(postgres_server: PostgresServer, s3_server: S3Server,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    db = postgres_server.create_database()
    bucket = s3_server.create_bucket()
    # Every server process of one database shares its secret (URL signing, key pepper).
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32)}
    # Started together against the empty database: migrations and the admin bootstrap race.
    servers = [
        start_server(tmp_path_factory.mktemp(f"server-{name}"), env=env, db=db,
                     blobs=f"s3://{bucket}/tracklet", wait=False)
        for name in "ab"
    ]
    try:
        for server in servers:
            server.wait_ready()
        yield Team(servers[0], servers[1], s3_server, bucket)
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(db)


@pytest.fixture(scope="module")
def logged_run(team: Team, tmp_path_factory: pytest.TempPathFactory) -> LoggedRun:
    workdir = tmp_path_factory.mktemp("sdk-a")
    sdk = SdkEnv(team.a, workdir, sdk_environment(team.a, workdir))
    proc = sdk.run(
        f"""
        import os, random
        import wandb

        run = wandb.init(project={PROJECT!r}, config={{"lr": 0.1, "layers": [64, 64]}})
        for i in range(20):
            run.log({{"loss": 1.0 / (i + 1), "acc": i / 20}})
        os.makedirs("out", exist_ok=True)
        with open("out/notes.txt", "w") as f:
            f.write("hello from server A\\n")
        with open("out/weights.bin", "wb") as f:
            f.write(random.Random({WEIGHTS_SEED}).randbytes({WEIGHTS_SIZE}))
        run.save("out/notes.txt", base_path="out", policy="now")
        run.save("out/weights.bin", base_path="out", policy="end")
        run.summary["best"] = 0.99
        run.finish()
        print("RUN", run.entity, run.id)
        """
    )
    entity, run_id = proc.stdout.split("RUN ")[1].split()
    return LoggedRun(entity, run_id)


def _check_run_through_api(server: LiveServer, team: Team, logged: LoggedRun, workdir: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    api = make_api(server, workdir / "api", monkeypatch)
    run = api.run(logged.path)
    assert run.state == "finished"
    assert run.config == {"lr": 0.1, "layers": [64, 64]}
    assert run.summary["best"] == 0.99
    assert run.summary["loss"] == 0.05
    files = {f.name: f for f in run.files()}
    assert {"notes.txt", "weights.bin", "wandb-metadata.json"} <= set(files)
    assert files["weights.bin"].size == WEIGHTS_SIZE
    # Downloads go straight to the bucket: presigned by this server, fetched without it.
    assert files["weights.bin"].url.startswith(team.s3.endpoint_url + "/" + team.bucket + "/")
    root = workdir / "download"
    # File.download returns the file it wrote, open.
    files["weights.bin"].download(root=str(root)).close()
    files["notes.txt"].download(root=str(root)).close()
    assert (root / "weights.bin").read_bytes() == weights()
    assert (root / "notes.txt").read_text() == "hello from server A\n"


def test_sdk_run_reads_back_through_the_api(team: Team, logged_run: LoggedRun, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _check_run_through_api(team.a, team, logged_run, tmp_path, monkeypatch)


def test_sdk_run_is_stored_in_postgresql_and_the_bucket(team: Team,
                                                         logged_run: LoggedRun) -> None:
    storage = team.a.storage()
    try:
        assert storage.db.engine.dialect.name == "postgresql"
        with storage.db.read() as conn:
            run = run_repo.get_run_by_path(conn, logged_run.entity, PROJECT, logged_run.run_id)
            weights_row = run_repo.get_run_file(conn, run.id, "weights.bin")
        # Both tiers: a finished run may already be compacted to a Parquet part in the bucket.
        with open_history(storage, run.id) as view:
            rows = [r.data for r in view.rows()]
        assert run.state == "finished"
        assert [r["_step"] for r in rows] == list(range(20))
        assert [r["loss"] for r in rows] == [1.0 / (i + 1) for i in range(20)]
        assert weights_row is not None and weights_row.blob_key is not None
        assert weights_row.size == WEIGHTS_SIZE
        digest = hashlib.sha256()
        for chunk in storage.blobs.open(weights_row.blob_key):
            digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(weights()).hexdigest()
    finally:
        storage.close()
    # The bytes live in the bucket under the configured prefix, not on either server's disk.
    listed = team.s3.client().list_objects_v2(Bucket=team.bucket, Prefix="tracklet/")
    assert "tracklet/" + weights_row.blob_key in {o["Key"] for o in listed["Contents"]}
    for server in (team.a, team.b):
        local = server.data_dir / "blobs"
        assert not local.exists() or not any(p.is_file() for p in local.rglob("*"))


def test_a_run_written_through_one_server_reads_through_the_other(
    team: Team, logged_run: LoggedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check_run_through_api(team.b, team, logged_run, tmp_path, monkeypatch)


def _graphql(server: LiveServer, query: str, variables: dict[str, object]) -> dict[str, object]:
    resp = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                      auth=("api", server.key), timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert not body.get("errors"), body
    data: dict[str, object] = body["data"]
    return data


CREATE_RUN_FILES = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) {
    files { name uploadUrl }
  }
}
"""


def _on(server: LiveServer, url: str) -> str:
    """``url`` with its scheme and host swapped for ``server``'s."""
    target = urlsplit(server.url)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def test_an_upload_url_from_one_server_is_accepted_by_the_other(
    team: Team, logged_run: LoggedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _graphql(team.a, CREATE_RUN_FILES, {
        "entity": logged_run.entity, "project": PROJECT, "run": logged_run.run_id,
        "files": ["extra/from-b.bin"]})
    upload_url = data["createRunFiles"]["files"][0]["uploadUrl"]  # type: ignore[index]
    assert upload_url.startswith(team.a.url)
    payload = random.Random(7).randbytes(300_000)
    # Signed by A, presented to B: the signing key lives in the shared database.
    resp = httpx.put(_on(team.b, upload_url), content=payload, timeout=60)
    assert resp.status_code == 200, resp.text
    # A tampered token is refused, and stores nothing.
    bad = httpx.put(_on(team.b, upload_url.replace("?t=", "?t=x")), content=b"evil",
                    timeout=60)
    assert bad.status_code == 403, bad.text

    api = make_api(team.a, tmp_path / "api", monkeypatch)
    (remote,) = [f for f in api.run(logged_run.path).files() if f.name == "extra/from-b.bin"]
    assert remote.size == len(payload)
    remote.download(root=str(tmp_path / "dl")).close()
    assert (tmp_path / "dl" / "extra" / "from-b.bin").read_bytes() == payload
    # ...and the signed URL it handed out works for anyone, without credentials.
    assert httpx.get(remote.url, timeout=60).content == payload


def test_sixteen_runs_of_a_new_project_start_at_once_on_both_servers(team: Team) -> None:
    """A sweep or a multi-node launch creates the first runs of a project all at once: every
    UpsertBucket succeeds on PostgreSQL (the project is inserted ON CONFLICT DO NOTHING) and
    every run stores each of its rows once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.e2e.http_writer import HttpWriter

    project = f"burst-{secrets.token_hex(4)}"
    barrier = threading.Barrier(16, timeout=60)
    entity = "admin"

    def start(i: int) -> str:
        server = (team.a, team.b)[i % 2]
        writer = HttpWriter(server.url, server.key)
        barrier.wait()
        writer.create_run(entity, project, f"run{i:02d}", config={"i": i})
        writer.log(entity, project, f"run{i:02d}", [{"x": i * 1000 + s} for s in range(50)],
                   finish=True)
        writer.client.close()
        return f"run{i:02d}"

    with ThreadPoolExecutor(16) as pool:
        names = list(pool.map(start, range(16)))
    runs = _graphql(team.b, """
        query R($entity: String!, $project: String!) {
          project(name: $project, entityName: $entity) {
            runCount
            runs(first: 100) { edges { node { name historyLineCount } } }
          }
        }""", {"entity": entity, "project": project})["project"]
    assert isinstance(runs, dict)
    assert runs["runCount"] == 16
    stored = {e["node"]["name"]: e["node"]["historyLineCount"] for e in runs["runs"]["edges"]}
    assert stored == dict.fromkeys(names, 50)
    projects = _graphql(team.a, """
        query P($entity: String!) { models(entityName: $entity, first: 500) {
          edges { node { name } } } }""", {"entity": entity})["models"]
    assert isinstance(projects, dict)
    assert [e["node"]["name"] for e in projects["edges"]].count(project) == 1
