"""Artifact versions built from several uploads, and the smaller SDK-visible details.

Incremental artifacts (``Artifact(incremental=True)``, incremental tables) upload only what is
new and the server lays it over the previous version; distributed artifacts collect files
from several runs (``upsert_artifact``) until one run commits them (``finish_artifact``).
Everything is driven by the real SDK and read back through ``wandb.Api()`` and the store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wandb

from tests.e2e.artifact_helpers import md5_b64, read_tree, result
from tests.e2e.conftest import LiveServer, SdkEnv, make_api, sdk_environment, start_server
from tracklet.domain.artifacts import ArtifactState, ManifestEntry, manifest_digest
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo


def _stored_files(server: LiveServer, artifact_gid: str) -> dict[str, bytes]:
    """Path -> stored bytes of a committed artifact, straight from the store."""
    store = server.storage()
    try:
        with store.db.read() as conn:
            stored = repo.get_artifact(conn, decode_id("Artifact", artifact_gid))
            assert stored is not None and stored.state is ArtifactState.COMMITTED
            rows = repo.list_files(conn, stored.id, None, None, 100)
        return {f.path: b"".join(store.blobs.open(f.blob_key or "")) for f in rows}
    finally:
        store.close()


INCREMENTAL = """
import json, sys, wandb
project, incremental = sys.argv[1], sys.argv[2] == "1"
out = {}
for step, files in enumerate([{"orig.txt": "orig data"}, {"new.txt": "new data",
                                                          "orig.txt": None}]):
    with wandb.init(project=project) as run:
        art = wandb.Artifact("inc", "dataset", incremental=incremental and step == 1)
        for name, text in files.items():
            if text is not None:
                with art.new_file(name) as f:
                    f.write(text)
        run.log_artifact(art)
        art.wait()
        out[f"v{step}"] = {"id": art.id, "run": run.id, "entity": run.entity}
print("RESULT", json.dumps(out))
"""


def test_incremental_artifact_lays_new_files_over_the_latest(sdk: SdkEnv, api,  # type: ignore[no-untyped-def]
                                                             live_server: LiveServer) -> None:
    logged = result(sdk.run(INCREMENTAL, args=("art-inc", "1")))
    entity = logged["v0"]["entity"]
    v1 = api.artifact(f"{entity}/art-inc/inc:latest")
    assert v1.version == "v1" and v1.id == logged["v1"]["id"]
    expected = {"orig.txt": b"orig data", "new.txt": b"new data"}
    assert set(v1.manifest.entries) == set(expected)
    # The digest describes the whole version, not only the part the client uploaded.
    entries = [ManifestEntry(p, md5_b64(d), len(d)) for p, d in expected.items()]
    assert v1.digest == manifest_digest(entries)
    dl = sdk.workdir / "dl-inc"
    v1.download(root=str(dl))
    assert read_tree(dl) == expected
    assert _stored_files(live_server, logged["v1"]["id"]) == expected
    # v0 is untouched.
    assert _stored_files(live_server, logged["v0"]["id"]) == {"orig.txt": b"orig data"}


def test_without_incremental_a_version_holds_only_its_own_files(sdk: SdkEnv, api,  # type: ignore[no-untyped-def]
                                                                live_server: LiveServer) -> None:
    logged = result(sdk.run(INCREMENTAL, args=("art-full", "0")))
    v1 = api.artifact(f"{logged['v0']['entity']}/art-full/inc:v1")
    assert set(v1.manifest.entries) == {"new.txt"}
    assert _stored_files(live_server, logged["v1"]["id"]) == {"new.txt": b"new data"}


INCREMENTAL_TABLE = """
import json, wandb
with wandb.init(project="art-table") as run:
    t = wandb.Table(columns=["step", "text"], log_mode="INCREMENTAL")
    for step in range(3):
        t.add_data(step, f"row {step}")
        run.log({"tbl": t})
with wandb.init(project="art-table") as reader:
    art = reader.use_artifact(f"run-{run.id}-incr-tbl:latest")
    tables = sorted(k for k in art.manifest.entries if k.endswith(".table.json"))
    print("RESULT", json.dumps({"entity": run.entity, "run": run.id, "tables": tables,
                                "rows": art.get(tables[-1][:-len(".table.json")]).data}))
"""


def test_incremental_table_reads_back_every_increment(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    out = result(sdk.run(INCREMENTAL_TABLE))
    assert len(out["tables"]) == 3
    assert out["rows"] == [[0, "row 0"], [1, "row 1"], [2, "row 2"]]
    versions = list(api.artifacts("wandb-run-incremental-table",
                                  f"{out['entity']}/art-table/run-{out['run']}-incr-tbl"))
    assert sorted(a.version for a in versions) == ["v0", "v1", "v2"]


DISTRIBUTED = """
import json, wandb
import numpy as np
group, runs = "dist-group", []
for i in range(2):
    with wandb.init(project="art-dist", group=group) as run:
        art = wandb.Artifact("shards", type="dataset")
        with art.new_file(f"shard_{i}.txt") as f:
            f.write(f"shard {i}")
        run.upsert_artifact(art)
        runs.append(run.id)
with wandb.init(project="art-dist", group=group) as run:
    art = wandb.Artifact("shards", type="dataset")
    run.finish_artifact(art)
    runs.append(run.id)
print("RESULT", json.dumps({"entity": run.entity, "runs": runs}))
"""


def test_distributed_artifact_collects_every_runs_files(sdk: SdkEnv, api,  # type: ignore[no-untyped-def]
                                                        live_server: LiveServer) -> None:
    out = result(sdk.run(DISTRIBUTED))
    base = f"{out['entity']}/art-dist/shards"
    art = api.artifact(f"{base}:latest")
    expected = {"shard_0.txt": b"shard 0", "shard_1.txt": b"shard 1"}
    assert art.version == "v0" and set(art.manifest.entries) == set(expected)
    assert [a.version for a in api.artifacts("dataset", base)] == ["v0"]
    entries = [ManifestEntry(p, md5_b64(d), len(d)) for p, d in expected.items()]
    assert art.digest == manifest_digest(entries)
    assert _stored_files(live_server, art.id) == expected
    # Every run that contributed lists the one version among its outputs.
    for run_id in out["runs"]:
        logged = api.run(f"{out['entity']}/art-dist/{run_id}").logged_artifacts()
        assert [a.name for a in logged] == ["shards:v0"]


RELOG = """
import json, wandb
with wandb.init(project="art-relog") as first:
    pass
art = wandb.Artifact("made-elsewhere", type="test")
with art.new_file("x.txt") as f:
    f.write("x")
art.save(project="art-relog")
art.wait()
print("RESULT", json.dumps({"entity": first.entity, "run": first.id, "name": art.qualified_name,
                            "commit": art.commit_hash}))
"""


def test_public_run_logs_an_existing_artifact(sdk: SdkEnv, api,  # type: ignore[no-untyped-def]
                                              live_server: LiveServer) -> None:
    out = result(sdk.run(RELOG))
    assert re.fullmatch(r"[0-9a-f]{20}", out["commit"])
    run = api.run(f"{out['entity']}/art-relog/{out['run']}")
    assert list(run.logged_artifacts()) == []
    run.log_artifact(api.artifact(out["name"]))
    assert [a.qualified_name for a in run.logged_artifacts()] == [out["name"]]
    # No second version was made; the commit hash is stable across reads.
    again = api.artifact(out["name"])
    assert again.version == "v0" and again.commit_hash == out["commit"]
    store = live_server.storage()
    try:
        with store.db.read() as conn:
            project = accounts.find_project(conn, out["entity"], "art-relog")
            assert project is not None
            coll = repo.find_collection(conn, project.id, "made-elsewhere")
            assert coll is not None and repo.count_members(conn, coll.id) == 1
    finally:
        store.close()


NAMES = """
import json, wandb
with wandb.init(project="art-names", id="lr=0.1-seed-0") as run:
    art = wandb.Artifact("tagged", type="dataset")
    with art.new_file("a.txt") as f:
        f.write("a")
    run.log_artifact(art, tags=["first TAG 1", "plain"])
    art.wait()
print("RESULT", json.dumps({"entity": run.entity, "run": run.id}))
"""


def test_run_ids_and_tags_the_sdk_accepts_are_accepted(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    out = result(sdk.run(NAMES))
    run = api.run(f"{out['entity']}/art-names/lr=0.1-seed-0")
    assert run.id == "lr=0.1-seed-0"
    art = api.artifact(f"{out['entity']}/art-names/tagged:v0")
    assert sorted(art.tags) == ["first TAG 1", "plain"]


BAD_REGION = """
import wandb
with wandb.init(project="art-region") as run:
    art = wandb.Artifact("regional", type="dataset", storage_region="coreweave-us")
    with art.new_file("a.txt") as f:
        f.write("a")
    run.log_artifact(art)
    try:
        art.wait()
    except ValueError as e:
        print("RESULT", __import__("json").dumps(str(e)))
"""


def test_unknown_storage_region_is_a_clear_error(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    message = result(sdk.run(BAD_REGION))
    assert "coreweave-us" in message and "default" in message
    entity = api.viewer.entity
    # Nothing was created for the refused version.
    assert [t.name for t in api.artifact_types(f"{entity}/art-region")] == []


def test_missing_project_reads_as_not_found(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(wandb.errors.CommError, match="project 'nope' not found"):
        api.artifact("no-such-entity/nope/thing:v0")
    with pytest.raises(wandb.errors.CommError, match="project 'nope' not found"):
        api.artifact(f"{api.viewer.entity}/nope/thing:v0")


REGION = """
import json, sys, wandb
with wandb.init(project="art-region") as run:
    art = wandb.Artifact("regional", type="dataset", storage_region=sys.argv[1])
    with art.new_file("a.txt") as f:
        f.write("in a region")
    run.log_artifact(art)
    art.wait()
print("RESULT", json.dumps({"entity": run.entity, "id": art.id}))
"""


def test_configured_storage_region_is_accepted(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(tmp_path / "data", env={"TRACKLET_STORAGE_REGIONS": "eu-local"})
    try:
        sdk = SdkEnv(server, tmp_path, sdk_environment(server, tmp_path))
        out = result(sdk.run(REGION, args=("eu-local",)))
        api = make_api(server, tmp_path / "api", monkeypatch)
        art = api.artifact(f"{out['entity']}/art-region/regional:v0")
        assert art.manifest.to_manifest_json()["storagePolicyConfig"]["storageRegion"] == (
            "eu-local")
        dl = tmp_path / "dl"
        art.download(root=str(dl))
        assert read_tree(dl) == {"a.txt": b"in a region"}
        assert _stored_files(server, out["id"]) == {"a.txt": b"in a region"}
        # A region the operator did not list is still refused.
        proc = sdk.run(REGION, args=("elsewhere",), expect_rc=None)
        assert proc.returncode != 0 and "'elsewhere'" in proc.stderr
    finally:
        server.stop()
