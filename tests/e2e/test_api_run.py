"""``api.run(path)``: every field compared with what the SDK logged and what the store holds;
``run.update()``, ``run.upload_file()``, ``files()``/``file().download()``, ``run.delete()``."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.http_writer import same_value
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.history.export.table import get_exports
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live.read import event_lines
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo

CONFIG = {"lr": 0.003, "layers": [64, 32], "opt": {"name": "adam", "betas": [0.9, 0.99]},
          "seed": 7, "tag": "baseline"}

SCRIPT = """
import json, sys, wandb
project = sys.argv[1]
run = wandb.init(project=project, name="first-try", config=CONFIG, tags=["a", "b"],
                 notes="some notes", group="grp", job_type="train")
for i in range(20):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 20})
run.summary["best_acc"] = 0.95
with open("notes.txt", "w") as fh:
    fh.write("hello from the run\\n")
run.save("notes.txt", policy="now")
run.finish()
print("RUN", run.entity, run.id)
"""


def _wait(predicate: Any, timeout: float = 30.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture
def logged(sdk: SdkEnv) -> dict[str, str]:
    project = f"one-{uuid.uuid4().hex[:8]}"
    proc = sdk.run(f"CONFIG = {CONFIG!r}\n" + SCRIPT, args=(project,))
    entity, run_id = proc.stdout.split("RUN ")[1].split()
    return {"entity": entity, "project": project, "id": run_id,
            "path": f"{entity}/{project}/{run_id}"}


def test_run_fields_match_what_was_logged(api: Any, live_server: LiveServer,
                                          logged: dict[str, str]) -> None:
    run = api.run(logged["path"])
    assert run.id == logged["id"]
    assert run.entity == logged["entity"] and run.project == logged["project"]
    assert run.name == "first-try"
    assert run.state == "finished"
    assert run.config == CONFIG
    assert run.tags == ["a", "b"]
    assert run.notes == "some notes"
    assert run.group == "grp"
    assert run.job_type == "train"
    assert run.url.endswith(f"/{logged['entity']}/{logged['project']}/runs/{logged['id']}")
    assert run.summary["best_acc"] == 0.95
    assert run.summary["loss"] == 1.0 / 20 and run.summary["acc"] == 19 / 20
    assert run.summary["_step"] == 19
    assert run.lastHistoryStep == 19
    storage = live_server.storage()
    try:
        with storage.db.read() as conn:
            stored = run_repo.get_run_by_id(conn, decode_id("Run", run.storage_id))
        assert stored is not None
        assert same_value(run.summary_metrics, loads(stored.summary))
        assert run.system_metrics == (loads(stored.system_metrics) or {})
        created = dt.datetime.fromisoformat(run.created_at).replace(tzinfo=dt.timezone.utc)
        assert abs(created.timestamp() - stored.created_at) < 1
        beat = dt.datetime.fromisoformat(run.heartbeat_at).replace(tzinfo=dt.timezone.utc)
        assert abs(beat.timestamp() - stored.heartbeat_at) < 1
        with storage.db.read() as conn:
            events = event_lines(conn, stored.id)
        system = run.history(stream="system", pandas=False)
        assert events and same_value(system, [loads(e) for e in events])
        metadata = run.metadata
        assert metadata is not None and metadata == json.loads(stored.metadata or "null")
        assert metadata["python"] and metadata["os"]
    finally:
        storage.close()


def test_files_list_and_download(api: Any, logged: dict[str, str], tmp_path: Path) -> None:
    run = api.run(logged["path"])
    names = {f.name for f in run.files()}
    assert {"notes.txt", "config.yaml", "wandb-metadata.json", "wandb-summary.json"} <= names
    assert [f.name for f in run.files(per_page=1)] == sorted(names)
    assert {f.name for f in run.files(pattern="%.json")} == {n for n in names
                                                              if n.endswith(".json")}
    got = run.file("notes.txt").download(root=str(tmp_path), replace=True)
    got.close()
    assert (tmp_path / "notes.txt").read_text() == "hello from the run\n"
    summary_file = run.file("wandb-summary.json").download(root=str(tmp_path), replace=True)
    summary_file.close()
    assert json.loads((tmp_path / "wandb-summary.json").read_text())["best_acc"] == 0.95


def test_update_changes_what_is_read_back(api: Any, live_server: LiveServer,
                                          logged: dict[str, str]) -> None:
    run = api.run(logged["path"])
    run.config["lr"] = 0.01
    run.config["extra"] = {"k": 1}
    run.tags = ["a", "promoted"]
    run.notes = "edited"
    run.name = "renamed"
    run.group = "grp2"
    run.job_type = "eval"
    run.summary.update({"best_acc": 0.97, "verdict": "good"})
    run.update()

    api.flush()
    again = api.run(logged["path"])
    assert again.config == {**CONFIG, "lr": 0.01, "extra": {"k": 1}}
    assert again.tags == ["a", "promoted"]
    assert again.notes == "edited" and again.name == "renamed"
    assert again.group == "grp2" and again.job_type == "eval"
    assert again.summary["best_acc"] == 0.97 and again.summary["verdict"] == "good"
    assert again.summary["loss"] == 1.0 / 20
    path = f"{logged['entity']}/{logged['project']}"
    assert [r.id for r in api.runs(path, filters={"config.extra.k": 1, "tags": "promoted",
                                                  "summary_metrics.verdict": "good"})] == [
        logged["id"]]
    storage = live_server.storage()
    try:
        with storage.db.read() as conn:
            stored = run_repo.get_run_by_id(conn, decode_id("Run", again.storage_id))
        assert stored is not None
        assert stored.display_name == "renamed" and stored.tags == ("a", "promoted")
        assert loads(stored.config)["lr"]["value"] == 0.01
        assert "_wandb" in loads(stored.config)
    finally:
        storage.close()


def test_upload_file_then_read_it(api: Any, logged: dict[str, str], tmp_path: Path) -> None:
    run = api.run(logged["path"])
    source = tmp_path / "up" / "report.json"
    source.parent.mkdir()
    source.write_text('{"score": 3}')
    uploaded = run.upload_file(str(source), root=str(tmp_path / "up"))
    assert uploaded.name == "report.json"
    assert uploaded.size == len('{"score": 3}')
    api.flush()
    run = api.run(logged["path"])
    assert "report.json" in {f.name for f in run.files()}
    out = tmp_path / "down"
    run.file("report.json").download(root=str(out), replace=True).close()
    assert (out / "report.json").read_text() == '{"score": 3}'
    assert run.state == "finished"


def test_delete_removes_run_history_and_export(api: Any, live_server: LiveServer,
                                               logged: dict[str, str]) -> None:
    run = api.run(logged["path"])
    run_pk = decode_id("Run", run.storage_id)
    storage = live_server.storage()
    try:
        def exported() -> Any:
            with storage.db.read() as conn:
                return get_exports(conn, run_pk)

        parts = _wait(exported)
        assert all(storage.blobs.exists(p.blob_key) for p in parts)
        run.delete()
        api.flush()
        with pytest.raises(Exception, match="Could not find run"):
            api.run(logged["path"])
        with storage.db.read() as conn:
            assert run_repo.get_run_by_id(conn, run_pk) is None
            assert get_exports(conn, run_pk) == []
        with open_history(storage, run_pk) as view:
            assert list(view.rows()) == []
        assert not any(storage.blobs.exists(p.blob_key) for p in parts)
        assert logged["id"] not in [r.id for r in api.runs(
            f"{logged['entity']}/{logged['project']}")]
    finally:
        storage.close()


DELETE = "mutation D($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"


def test_bad_deletes_are_refused_and_change_nothing(api: Any, live_server: LiveServer,
                                                    logged: dict[str, str]) -> None:
    import httpx

    run = api.run(logged["path"])
    other_key = "local-" + "mal0" * 11
    storage = live_server.storage()
    try:
        storage.create_user("mallory", key=other_key)
    finally:
        storage.close()
    cases = [
        (live_server.key, "not-base64!", "invalid Run id"),
        (live_server.key, "UHJvamVjdDox", "invalid Run id"),  # a Project id
        (live_server.key, "UnVuOjk5OTk5OQ==", "run not found"),
        (other_key, run.storage_id, "not found"),  # refused as if missing
    ]
    for key, run_id, message in cases:
        response = httpx.post(f"{live_server.url}/graphql", auth=("api", key), timeout=30,
                              json={"query": DELETE, "variables": {"id": run_id}})
        # A mutation that failed as a whole carries its error's 4xx status.
        assert 400 <= response.status_code < 500
        assert message in response.json()["errors"][0]["message"]
    api.flush()
    again = api.run(logged["path"])
    assert again.config == CONFIG and again.lastHistoryStep == 19
