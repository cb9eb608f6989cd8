"""Artifacts logged, used and downloaded by the real SDK, read back through the API and store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.artifact_helpers import md5_b64, read_tree, result, write_tree
from tests.e2e.conftest import LiveServer, SdkEnv
from tracklet.domain.artifacts import ArtifactState, ManifestEntry, manifest_digest
from tracklet.ingest.uploads import cas_key
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo

LOG_DIR = """
import json, sys, wandb
project, name, src = sys.argv[1], sys.argv[2], sys.argv[3]
aliases = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else []
run = wandb.init(project=project, job_type="produce")
art = wandb.Artifact(name, type="dataset", description="desc", metadata={"k": "v", "n": 3})
art.add_dir(src)
run.log_artifact(art, aliases=aliases)
art.wait()
print("RESULT", json.dumps({"id": art.id, "version": art.version, "digest": art.digest,
                            "run": run.id, "entity": run.entity}))
run.finish()
"""


def _log_dir(sdk: SdkEnv, project: str, name: str, files: dict[str, bytes],
             aliases: str = "") -> dict[str, str]:
    src = sdk.workdir / f"src-{name}-{len(list(sdk.workdir.iterdir()))}"
    write_tree(src, files)
    out: dict[str, str] = result(sdk.run(LOG_DIR, args=(project, name, str(src), aliases)))
    return out


def _consume(sdk: SdkEnv, project: str, ref: str, root: Path) -> str:
    proc = sdk.run(f"""
        import json, wandb
        run = wandb.init(project={project!r}, job_type="consume")
        a = run.use_artifact({ref!r})
        a.download(root={str(root)!r})
        print("RESULT", json.dumps(run.id))
        run.finish()
        """, extra_env={"WANDB_CACHE_DIR": str(root.parent / f"cache-{root.name}")})
    run_id: str = result(proc)
    return run_id


def test_log_use_download_round_trip(sdk: SdkEnv, api, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    files = {"a.txt": b"alpha\n", "empty.bin": b"", "sub/b.json": b'{"b": 2}\n',
             "bin/r.dat": os.urandom(300_000)}
    logged = _log_dir(sdk, "art-rt", "mydata", files, "best")
    assert logged["version"] == "v0"
    entries = [ManifestEntry(path=p, digest=md5_b64(d), size=len(d)) for p, d in files.items()]
    assert logged["digest"] == manifest_digest(entries)

    # A second run downloads with an empty cache: every byte comes from the server.
    dl = sdk.workdir / "dl"
    consumer = _consume(sdk, "art-rt", "mydata:best", dl)
    assert read_tree(dl) == files

    entity = logged["entity"]
    art = api.artifact(f"{entity}/art-rt/mydata:v0")
    assert art.id == logged["id"]
    assert art.type == "dataset"
    assert art.description == "desc"
    assert art.metadata == {"k": "v", "n": 3}
    assert sorted(art.aliases) == ["best", "latest"]
    assert art.digest == logged["digest"]
    assert art.file_count == 4
    assert art.size == sum(len(d) for d in files.values())
    assert sorted(f.name for f in art.files()) == sorted(files)
    # Lineage both ways.
    assert art.logged_by().id == logged["run"]
    assert [r.id for r in art.used_by()] == [consumer]
    assert [a.name for a in api.run(f"{entity}/art-rt/{logged['run']}").logged_artifacts()] == [
        "mydata:v0"]
    assert [a.name for a in api.run(f"{entity}/art-rt/{consumer}").used_artifacts()] == [
        "mydata:v0"]

    store = live_server.storage()
    try:
        with store.db.read() as conn:
            stored = repo.get_artifact(conn, decode_id("Artifact", logged["id"]))
            assert stored is not None
            assert stored.state is ArtifactState.COMMITTED and stored.version_index == 0
            rows = {f.path: f for f in repo.list_files(conn, stored.id, None, None, 100)}
        assert {p: (f.digest, f.size) for p, f in rows.items()} == {
            p: (md5_b64(d), len(d)) for p, d in files.items()}
        for path, data in files.items():
            assert b"".join(store.blobs.open(rows[path].blob_key or "")) == data
    finally:
        store.close()


def test_relog_same_content_is_deduplicated(sdk: SdkEnv, api, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    files = {"x.txt": b"same content\n"}
    first = _log_dir(sdk, "art-dedup", "d", files)
    second = _log_dir(sdk, "art-dedup", "d", files, "again")
    assert second["id"] == first["id"] and second["version"] == "v0"
    versions = list(api.artifacts("dataset", f"{first['entity']}/art-dedup/d"))
    assert [a.version for a in versions] == ["v0"]
    assert sorted(versions[0].aliases) == ["again", "latest"]
    store = live_server.storage()
    try:
        with store.db.read() as conn:
            project = accounts.find_project(conn, first["entity"], "art-dedup")
            assert project is not None
            coll = repo.find_collection(conn, project.id, "d")
            assert coll is not None
            assert repo.count_members(conn, coll.id) == 1
    finally:
        store.close()


def test_versions_and_alias_moves(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    v0 = _log_dir(sdk, "art-alias", "m", {"w.bin": b"weights 0"}, "prod")
    v1 = _log_dir(sdk, "art-alias", "m", {"w.bin": b"weights 1"}, "prod")
    assert (v0["version"], v1["version"]) == ("v0", "v1")
    base = f"{v0['entity']}/art-alias/m"
    assert api.artifact(f"{base}:prod").version == "v1"
    assert api.artifact(f"{base}:latest").version == "v1"
    assert api.artifact(f"{base}:v0").aliases == []
    assert api.artifact(f"{base}:{v0['digest']}").version == "v0"

    old = api.artifact(f"{base}:v0")
    old.aliases.append("golden")
    old.aliases.append("prod")
    old.save()
    assert api.artifact(f"{base}:golden").version == "v0"
    assert api.artifact(f"{base}:prod").version == "v0"
    assert sorted(api.artifact(f"{base}:v1").aliases) == ["latest"]

    old = api.artifact(f"{base}:v0")
    old.aliases.remove("golden")
    old.save()
    with pytest.raises(Exception, match="not found"):
        api.artifact(f"{base}:golden")


def test_listing_types_collections_versions(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    a = _log_dir(sdk, "art-list", "one", {"f": b"1"})
    _log_dir(sdk, "art-list", "one", {"f": b"2"})
    _log_dir(sdk, "art-list", "two", {"f": b"3"})
    project = f"{a['entity']}/art-list"
    assert [t.name for t in api.artifact_types(project)] == ["dataset"]
    assert sorted(c.name for c in api.artifact_collections(project, "dataset")) == ["one", "two"]
    versions = api.artifacts("dataset", f"{project}/one")
    assert len(versions) == 2
    assert sorted(v.version for v in versions) == ["v0", "v1"]
    collection = api.artifact_collection("dataset", f"{project}/one")
    assert sorted(collection.aliases) == ["latest"]
    assert api.artifact_type("dataset", project).name == "dataset"


def test_delete_gives_not_found(sdk: SdkEnv, api, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    v0 = _log_dir(sdk, "art-del", "gone", {"f": b"first"})
    _log_dir(sdk, "art-del", "gone", {"f": b"second"})
    base = f"{v0['entity']}/art-del/gone"
    latest = api.artifact(f"{base}:v1")
    with pytest.raises(Exception, match="aliases"):
        latest.delete()
    latest.delete(delete_aliases=True)
    with pytest.raises(Exception, match="not found"):
        api.artifact(f"{base}:v1")
    # "latest" falls back to the newest version still there.
    assert api.artifact(f"{base}:latest").version == "v0"
    store = live_server.storage()
    try:
        with store.db.read() as conn:
            gone = repo.get_artifact(conn, decode_id("Artifact", latest.id))
            assert gone is not None and gone.state is ArtifactState.DELETED
            assert repo.list_files(conn, gone.id, None, None, 10) == []
    finally:
        store.close()


def test_references_are_stored_not_fetched(sdk: SdkEnv, api, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    local = sdk.workdir / "local-ref.txt"
    local.write_bytes(b"referenced by path\n")
    proc = sdk.run(f"""
        import json, wandb
        run = wandb.init(project="art-ref")
        art = wandb.Artifact("refs", type="dataset")
        art.add_reference("s3://no-such-bucket/data/train.csv", checksum=False)
        # gs:// needs google-cloud-storage client-side; add the entry its handler would make.
        from wandb.sdk.artifacts.artifact_manifest_entry import ArtifactManifestEntry
        art.manifest.add_entry(ArtifactManifestEntry(
            path="model.pt", ref="gs://no-such-bucket/model.pt",
            digest="gs://no-such-bucket/model.pt"))
        art.add_reference("https://example.invalid/data/file.json", checksum=False)
        art.add_reference("file://{local}")
        art.add_file({str(local)!r}, name="copy.txt")
        run.log_artifact(art)
        art.wait()
        print("RESULT", json.dumps({{"id": art.id, "entity": run.entity}}))
        run.finish()
        """)
    logged = result(proc)
    art = api.artifact(f"{logged['entity']}/art-ref/refs:v0")
    refs = {e.path: e.ref for e in art.manifest.entries.values()}
    assert refs["data/train.csv"] == "s3://no-such-bucket/data/train.csv"
    assert refs["model.pt"] == "gs://no-such-bucket/model.pt"
    assert refs["file.json"] == "https://example.invalid/data/file.json"
    assert refs["local-ref.txt"] == f"file://{local}"
    assert refs["copy.txt"] is None
    store = live_server.storage()
    try:
        with store.db.read() as conn:
            rows = {f.path: f for f in repo.list_files(
                conn, decode_id("Artifact", logged["id"]), None, None, 10)}
        assert {p for p, f in rows.items() if f.blob_key is None} == {
            "data/train.csv", "model.pt", "file.json", "local-ref.txt"}
        assert rows["copy.txt"].blob_key == cas_key(
            __import__("hashlib").md5(local.read_bytes()).hexdigest())
    finally:
        store.close()
    # The file:// reference and the stored copy download; remote ones are left to the client.
    dl = sdk.workdir / "refdl"
    sdk.run(f"""
        import wandb
        a = wandb.Api().artifact("{logged['entity']}/art-ref/refs:v0")
        a.get_entry("local-ref.txt").download(root={str(dl)!r})
        a.get_entry("copy.txt").download(root={str(dl)!r})
        """, extra_env={"WANDB_CACHE_DIR": str(sdk.workdir / "refcache")})
    assert read_tree(dl) == {"local-ref.txt": local.read_bytes(), "copy.txt": local.read_bytes()}


def test_link_to_portfolio(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run("""
        import json, wandb
        run = wandb.init(project="art-link")
        art = wandb.Artifact("model", type="model")
        with art.new_file("w.txt") as f:
            f.write("weights")
        run.log_artifact(art)
        run.link_artifact(art, "art-link/best-models", aliases=["champion"])
        art.wait()
        print("RESULT", json.dumps({"id": art.id, "entity": run.entity}))
        run.finish()
        """)
    logged = result(proc)
    base = f"{logged['entity']}/art-link"
    linked = api.artifact(f"{base}/best-models:champion")
    assert linked.id == logged["id"]
    assert linked.is_link
    assert linked.source_name == "model:v0"
    assert sorted(linked.aliases) == ["champion", "latest"]
    again = api.artifact(f"{base}/model:v0").link(f"{base}/staging", aliases=["candidate"])
    assert api.artifact(f"{base}/staging:candidate").id == logged["id"]
    assert again.version == "v0"


def test_ttl_round_trips(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    import datetime

    logged = _log_dir(sdk, "art-ttl", "t", {"f": b"ttl"})
    art = api.artifact(f"{logged['entity']}/art-ttl/t:v0")
    assert art.ttl is None
    art.ttl = datetime.timedelta(days=7)
    art.save()
    assert api.artifact(f"{logged['entity']}/art-ttl/t:v0").ttl == datetime.timedelta(days=7)


def test_collection_type_change_moves_every_version(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    a = _log_dir(sdk, "art-move", "moving", {"f": b"1"})
    _log_dir(sdk, "art-move", "moving", {"f": b"2"})
    project = f"{a['entity']}/art-move"
    collection = api.artifact_collection("dataset", f"{project}/moving")
    collection.type = "model"
    collection.save()
    moved = api.artifact_collection("model", f"{project}/moving")
    assert moved.type == "model" and moved.id == collection.id
    assert sorted(v.version for v in api.artifacts("model", f"{project}/moving")) == ["v0", "v1"]
    assert api.artifact(f"{project}/moving:v1").type == "model"
    assert sorted(t.name for t in api.artifact_types(project)) == ["dataset", "model"]
    with pytest.raises(Exception, match=r"not found|Could not find"):
        api.artifact_collection("dataset", f"{project}/moving")


def test_collection_tags_are_saved_and_read_back(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    a = _log_dir(sdk, "art-tags", "tagged", {"f": b"1"})
    project = f"{a['entity']}/art-tags"
    collection = api.artifact_collection("dataset", f"{project}/tagged")
    assert collection.tags == []
    collection.tags = ["gold", "v-2"]
    collection.save()
    assert sorted(api.artifact_collection("dataset", f"{project}/tagged").tags) == [
        "gold", "v-2"]
    collection = api.artifact_collection("dataset", f"{project}/tagged")
    collection.tags = ["v-2", "new"]
    collection.save()
    assert sorted(api.artifact_collection("dataset", f"{project}/tagged").tags) == [
        "new", "v-2"]
    with pytest.raises(Exception, match="tag"):
        collection.tags = ["bad tag!"]
        collection.save()
