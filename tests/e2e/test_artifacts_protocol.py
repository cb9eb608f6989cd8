"""The artifact protocol over raw HTTP: bad input, multipart uploads and fallback downloads.

These drive the exact requests the SDK sends (PROTOCOL §2.4) so that the failure paths the
SDK never takes on its own can be checked: each gets a clear 4xx or GraphQL error and leaves
stored data as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import httpx
import pytest

from tests.e2e.artifact_helpers import gql, md5_b64
from tests.e2e.conftest import LiveServer
from tracklet.domain.artifacts import ArtifactState, ManifestEntry, manifest_digest
from tracklet.ingest.uploads import cas_key
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import artifacts as repo

CREATE = """mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state versionIndex } } }"""
MANIFEST = """mutation M($artifactID: ID!, $digest: String!, $entityName: String!,
  $projectName: String!, $runName: String!) {
  createArtifactManifest(input: {artifactID: $artifactID, name: "wandb_manifest.json",
    digest: $digest, entityName: $entityName, projectName: $projectName, runName: $runName,
    type: FULL}) { artifactManifest { id file { uploadUrl uploadHeaders } } } }"""
FILES = """mutation F($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) {
  files { edges { node { storagePath uploadUrl uploadHeaders
    uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } }
    artifact { id } } } } } }"""
COMMIT = """mutation C($id: ID!) { commitArtifact(input: {artifactID: $id}) {
  artifact { id state versionIndex } } }"""
COMPLETE = """mutation X($parts: [UploadPartsInput!]!, $id: ID!, $path: String!, $upload: String!) {
  completeMultipartUploadArtifact(input: {completeMultipartAction: Complete,
    completedParts: $parts, artifactID: $id, storagePath: $path, uploadID: $upload}) { digest } }"""


def _entity(server: LiveServer) -> str:
    data = gql(server, "{ viewer { entity } }")
    entity: str = data["data"]["viewer"]["entity"]
    return entity


def _create(server: LiveServer, project: str, name: str, files: dict[str, bytes]) -> str:
    entries = [ManifestEntry(p, md5_b64(d), len(d)) for p, d in files.items()]
    body = gql(server, CREATE, {"input": {
        "entityName": _entity(server), "projectName": project, "artifactTypeName": "dataset",
        "artifactCollectionName": name, "digest": manifest_digest(entries),
        "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True,
        "aliases": [{"artifactCollectionName": name, "alias": "latest"}]}})
    assert "errors" not in body, body
    artifact_id: str = body["data"]["createArtifact"]["artifact"]["id"]
    return artifact_id


def _request_files(server: LiveServer, artifact_id: str, files: dict[str, bytes],
                   parts: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    body = gql(server, FILES, {"input": {"storageLayout": "V2", "artifactFiles": [
        {"artifactID": artifact_id, "name": p, "md5": md5_b64(d),
         "uploadPartsInput": (parts or {}).get(p)} for p, d in files.items()]}})
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["createArtifactFiles"]["files"]["edges"]]


def _put_manifest(server: LiveServer, artifact_id: str, files: dict[str, bytes],
                  refs: dict[str, str] | None = None) -> None:
    contents: dict[str, Any] = {p: {"digest": md5_b64(d), "size": len(d)}
                                for p, d in files.items()}
    for path, ref in (refs or {}).items():
        contents[path] = {"digest": ref, "ref": ref, "size": 0}
    doc = json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                      "storagePolicyConfig": {"storageLayout": "V2"},
                      "contents": contents}).encode()
    body = gql(server, MANIFEST, {"artifactID": artifact_id, "digest": md5_b64(doc),
                                  "entityName": _entity(server), "projectName": "p",
                                  "runName": "r"})
    url = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    assert httpx.put(url, content=doc).status_code == 200


def _state(server: LiveServer, artifact_id: str) -> ArtifactState:
    store = server.storage()
    try:
        with store.db.read() as conn:
            found = repo.get_artifact(conn, decode_id("Artifact", artifact_id))
        assert found is not None
        return found.state
    finally:
        store.close()


def test_upload_with_wrong_bytes_is_rejected(live_server: LiveServer) -> None:
    files = {"good.txt": b"the declared content\n"}
    artifact_id = _create(live_server, "proto-bad", "mismatch", files)
    node = _request_files(live_server, artifact_id, files)[0]
    headers = dict(h.split(":", 1) for h in node["uploadHeaders"])
    assert headers == {"Content-MD5": md5_b64(files["good.txt"])}
    resp = httpx.put(node["uploadUrl"], content=b"something else entirely\n", headers=headers)
    assert resp.status_code == 400
    assert "MD5" in resp.json()["errors"][0]["message"]
    # Right bytes but a lying Content-MD5 header: also rejected.
    resp = httpx.put(node["uploadUrl"], content=files["good.txt"],
                     headers={"Content-MD5": md5_b64(b"other")})
    assert resp.status_code == 400
    store = live_server.storage()
    try:
        assert not store.blobs.exists(cas_key(hashlib.md5(b"something else entirely\n")
                                              .hexdigest()))
        assert not store.blobs.exists(cas_key(hashlib.md5(files["good.txt"]).hexdigest()))
    finally:
        store.close()
    # A bad signature never reaches the store either.
    assert httpx.put(node["uploadUrl"] + "x", content=files["good.txt"]).status_code == 403


def test_commit_with_missing_files_is_an_error(live_server: LiveServer) -> None:
    files = {"present.txt": b"uploaded " + os.urandom(8), "absent.txt": os.urandom(32)}
    artifact_id = _create(live_server, "proto-bad", "missing", files)
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert "manifest was never uploaded" in body["errors"][0]["message"]
    nodes = _request_files(live_server, artifact_id, files)
    assert httpx.put(nodes[0]["uploadUrl"], content=files["present.txt"]).status_code == 200
    _put_manifest(live_server, artifact_id, files)
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert "absent.txt" in body["errors"][0]["message"]
    assert _state(live_server, artifact_id) is ArtifactState.PENDING
    # Upload the rest and the same commit now succeeds.
    assert httpx.put(nodes[1]["uploadUrl"], content=files["absent.txt"]).status_code == 200
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert body["data"]["commitArtifact"]["artifact"]["state"] == "COMMITTED"


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "bad name", "x" * 200, ""])
def test_names_with_path_tricks_are_rejected(live_server: LiveServer, name: str) -> None:
    body = gql(live_server, CREATE, {"input": {
        "entityName": _entity(live_server), "projectName": "proto-bad",
        "artifactTypeName": "dataset", "artifactCollectionName": name, "digest": "0" * 32,
        "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True}})
    assert body["data"]["createArtifact"] is None
    assert "invalid artifact name" in body["errors"][0]["message"]


def test_file_paths_with_traversal_are_rejected(live_server: LiveServer) -> None:
    artifact_id = _create(live_server, "proto-bad", "paths", {"ok.txt": b"ok"})
    for path in ["../../etc/passwd", "/abs", "a/../b", "a\\b"]:
        body = gql(live_server, FILES, {"input": {"storageLayout": "V2", "artifactFiles": [
            {"artifactID": artifact_id, "name": path, "md5": md5_b64(b"x")}]}})
        assert "invalid file name" in body["errors"][0]["message"], path
    # ...and in a manifest, at commit.
    _put_manifest(live_server, artifact_id, {"../escape.txt": b"x"})
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert "invalid file name" in body["errors"][0]["message"]
    assert _state(live_server, artifact_id) is ArtifactState.PENDING


def test_bad_aliases_and_ids(live_server: LiveServer) -> None:
    body = gql(live_server, CREATE, {"input": {
        "entityName": _entity(live_server), "projectName": "proto-bad",
        "artifactTypeName": "dataset", "artifactCollectionName": "al", "digest": "1" * 32,
        "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True,
        "aliases": [{"artifactCollectionName": "al", "alias": "v7"}]}})
    assert "reserved" in body["errors"][0]["message"]
    body = gql(live_server, COMMIT, {"id": "not-base64!"})
    assert "invalid Artifact id" in body["errors"][0]["message"]
    body = gql(live_server, COMMIT, {"id": "QXJ0aWZhY3Q6OTk5OTk5"})
    assert "not found" in body["errors"][0]["message"]


def test_type_clash_is_rejected(live_server: LiveServer) -> None:
    _create(live_server, "proto-bad", "typed", {"f": b"1"})
    body = gql(live_server, CREATE, {"input": {
        "entityName": _entity(live_server), "projectName": "proto-bad",
        "artifactTypeName": "model", "artifactCollectionName": "typed", "digest": "2" * 32,
        "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True}})
    assert "type 'dataset'" in body["errors"][0]["message"]


def test_multipart_upload_and_fallback_download(live_server: LiveServer) -> None:
    parts_data = [os.urandom(300_000), os.urandom(300_000), os.urandom(1234)]
    whole = b"".join(parts_data)
    files = {"big.bin": whole}
    artifact_id = _create(live_server, "proto-mp", "mp", files)
    parts_in = [{"partNumber": i + 1, "hexMD5": hashlib.md5(p).hexdigest()}
                for i, p in enumerate(parts_data)]
    node = _request_files(live_server, artifact_id, files, {"big.bin": parts_in})[0]
    urls = node["uploadMultipartUrls"]
    assert [u["partNumber"] for u in urls["uploadUrlParts"]] == [1, 2, 3]
    etags = []
    for u, data in zip(urls["uploadUrlParts"], parts_data, strict=True):
        resp = httpx.put(u["uploadUrl"], content=data, headers={"Content-MD5": md5_b64(data)})
        assert resp.status_code == 200
        etags.append({"partNumber": u["partNumber"], "hexMD5": resp.headers["ETag"]})
    # A wrong ETag list is refused and nothing is stored.
    wrong = [dict(etags[0], hexMD5="0" * 32), *etags[1:]]
    body = gql(live_server, COMPLETE, {"parts": wrong, "id": artifact_id,
                                       "path": node["storagePath"], "upload": urls["uploadID"]})
    assert "part 1" in body["errors"][0]["message"]
    body = gql(live_server, COMPLETE, {"parts": etags, "id": artifact_id,
                                       "path": node["storagePath"], "upload": urls["uploadID"]})
    assert body["data"]["completeMultipartUploadArtifact"]["digest"] == hashlib.md5(
        whole).hexdigest()
    _put_manifest(live_server, artifact_id, files)
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert body["data"]["commitArtifact"]["artifact"]["versionIndex"] == 0

    entity = _entity(live_server)
    md5_hex = hashlib.md5(whole).hexdigest()
    url = (f"{live_server.url}/artifactsV2/default/{entity}/proto-mp/mp/{artifact_id}/"
           f"{md5_hex}/big.bin")
    assert httpx.get(url).status_code == 401
    resp = httpx.get(url, auth=("api", live_server.key))
    assert resp.status_code == 200 and resp.content == whole
    resp = httpx.get(f"{live_server.url}/artifacts/{entity}/{md5_hex}",
                     auth=("api", live_server.key))
    assert resp.status_code == 200 and resp.content == whole
    missing = url.replace(md5_hex, "f" * 32)
    assert httpx.get(missing, auth=("api", live_server.key)).status_code == 404


def test_references_only_manifest_commits(live_server: LiveServer) -> None:
    artifact_id = _create(live_server, "proto-ref", "refs", {})
    refs = {"a.csv": "s3://bucket/a.csv", "b.pt": "gs://bucket/b.pt",
            "c.json": "https://example.invalid/c.json", "d.txt": "file:///nowhere/d.txt"}
    _put_manifest(live_server, artifact_id, {}, refs)
    body = gql(live_server, COMMIT, {"id": artifact_id})
    assert body["data"]["commitArtifact"]["artifact"]["state"] == "COMMITTED"
    store = live_server.storage()
    try:
        with store.db.read() as conn:
            rows = repo.list_files(conn, decode_id("Artifact", artifact_id), None, None, 10)
        assert {f.path: (f.ref, f.blob_key) for f in rows} == {
            p: (r, None) for p, r in refs.items()}
    finally:
        store.close()


def test_client_id_mapping(live_server: LiveServer) -> None:
    files = {"t.json": b"{}"}
    entries = [ManifestEntry(p, md5_b64(d), len(d)) for p, d in files.items()]
    client, sequence = "c" * 128, "s" * 128
    body = gql(live_server, CREATE, {"input": {
        "entityName": _entity(live_server), "projectName": "proto-ids",
        "artifactTypeName": "run_table", "artifactCollectionName": "tbl",
        "digest": manifest_digest(entries), "digestAlgorithm": "MANIFEST_MD5",
        "enableDigestDeduplication": True, "clientID": client, "sequenceClientID": sequence}})
    artifact_id = body["data"]["createArtifact"]["artifact"]["id"]
    query = "query Q($c: ID!) { clientIDMapping(clientID: $c) { serverID } }"
    assert gql(live_server, query, {"c": client})["data"]["clientIDMapping"] == {
        "serverID": artifact_id}
    # The sequence id names the latest committed version, so nothing before the commit.
    assert gql(live_server, query, {"c": sequence})["data"]["clientIDMapping"] is None
    node = _request_files(live_server, artifact_id, files)[0]
    assert httpx.put(node["uploadUrl"], content=files["t.json"]).status_code == 200
    _put_manifest(live_server, artifact_id, files)
    assert "errors" not in gql(live_server, COMMIT, {"id": artifact_id})
    assert gql(live_server, query, {"c": sequence})["data"]["clientIDMapping"] == {
        "serverID": artifact_id}
    assert gql(live_server, query, {"c": "unknown"})["data"]["clientIDMapping"] is None
    # A retried CreateArtifact with the same client id returns the same version.
    again = gql(live_server, CREATE, {"input": {
        "entityName": _entity(live_server), "projectName": "proto-ids",
        "artifactTypeName": "run_table", "artifactCollectionName": "tbl", "digest": "f" * 32,
        "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True,
        "clientID": client}})
    assert again["data"]["createArtifact"]["artifact"]["id"] == artifact_id
