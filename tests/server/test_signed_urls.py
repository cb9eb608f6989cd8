"""Issue 17, finding 7: signed URLs name one object, for a while, and open nothing more.

* A token names its object by ids (run and file name, artifact and path), never by blob key
  or digest: decoding an expired or leaked URL tells nothing that opens anything else.
* Downloads live an hour by default; uploads a day (the SDK queues them and never refreshes
  their URLs), and an upload URL stores bytes once: a replay cannot overwrite.
* A download URL opens nothing once its run or artifact is deleted.
* A download goes out with its type only when a browser cannot run it, as an attachment
  otherwise, with ``nosniff``; over S3 the presigned URL forces the same type and
  disposition (S3 sends no nosniff).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.support.app import InProcessApp, in_process_app
from tests.support.artifact_flow import (
    MANIFEST,
    Caller,
    manifest_bytes,
    md5_b64,
    new_caller,
)
from tracklet.config import Settings

UPSERT = """mutation U($p: String!, $r: String!) {
  upsertBucket(input: {name: $r, modelName: $p}) { bucket { id } } }"""
CREATE_FILES = """mutation F($e: String!, $p: String!, $r: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $e, projectName: $p, runName: $r, files: $files}) {
    files { name uploadUrl } } }"""
RUN_FILES = """query Q($e: String!, $p: String!, $r: String!, $names: [String!]) {
  project(entityName: $e, name: $p) { run(name: $r) {
    files(names: $names) { edges { node { name directUrl } } } } } }"""
DELETE_RUN = "mutation D($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"
DELETE_ARTIFACT = """mutation D($id: String!) {
  deleteArtifact(input: {artifactID: $id, deleteAliases: true}) { artifact { id } } }"""

FILES = {
    "page.html": b"<script>alert(document.cookie)</script>",
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "note.txt": b"plain\n",
    "data.json": b"{}",
    "img.png": b"\x89PNG\r\n\x1a\n",
}
INLINE = {"note.txt": "text/plain", "data.json": "application/json", "img.png": "image/png"}


@pytest.fixture
def local_app(tmp_path: Path) -> Iterator[InProcessApp]:
    """The app on the embedded deployment (SQLite + a local folder), where tracklet itself
    serves every download URL."""
    with in_process_app(Settings(data_dir=tmp_path / "data")) as running:
        yield running


def _claims(url: str) -> dict[str, Any]:
    token = parse_qs(urlsplit(url).query)["t"][0]
    body = token.partition(".")[0]
    claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


def _run_with_files(user: Caller, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """A run of ``user`` holding ``files``; its GraphQL id and each file's upload URL."""
    body = user.gql(UPSERT, {"p": "p", "r": "r1"})
    run_id: str = body["data"]["upsertBucket"]["bucket"]["id"]
    body = user.gql(CREATE_FILES, {"e": user.entity, "p": "p", "r": "r1",
                                   "files": list(files)})
    uploads = {f["name"]: f["uploadUrl"] for f in body["data"]["createRunFiles"]["files"]}
    for name, url in uploads.items():
        assert user.put(url, files[name]).status_code == 200
    return run_id, uploads


def _download_urls(user: Caller, names: list[str]) -> dict[str, str]:
    body = user.gql(RUN_FILES, {"e": user.entity, "p": "p", "r": "r1", "names": names})
    edges = body["data"]["project"]["run"]["files"]["edges"]
    return {e["node"]["name"]: e["node"]["directUrl"] for e in edges}


def test_default_lifetimes() -> None:
    settings = Settings()
    assert (settings.signed_url_ttl_s, settings.signed_upload_ttl_s) == (3600, 24 * 3600)


def test_tokens_name_objects_and_expire_within_the_hour(local_app: InProcessApp) -> None:
    alice = new_caller(local_app, "alice")
    _, uploads = _run_with_files(alice, {"note.txt": FILES["note.txt"]})
    artifact_id = alice.log("data", "set", {"sub/a.bin": b"artifact bytes"})
    urls = {**_download_urls(alice, ["note.txt"]),
            **alice.file_urls(artifact_id, ["sub/a.bin"])}
    now = time.time()
    for name, url in urls.items():
        claims = _claims(url)
        decoded = orjson.dumps(claims).decode()
        # Ids only: no blob key, no content digest, nothing to reach another object with.
        assert set(claims) <= {"k", "r", "n", "a", "p", "exp"}, (name, claims)
        for data in (FILES["note.txt"], b"artifact bytes"):
            assert hashlib.md5(data).hexdigest() not in decoded and "cas/" not in decoded
            assert md5_b64(data) not in decoded
        assert now + 3500 < claims["exp"] <= now + 3600, name
    upload = _claims(uploads["note.txt"])
    assert len(upload["j"]) >= 16 and now + 86000 < upload["exp"] <= now + 86400


def test_upload_urls_are_single_use(app: InProcessApp) -> None:
    alice = new_caller(app, "alice")
    _, uploads = _run_with_files(alice, {"note.txt": b"first\n"})
    url = uploads["note.txt"]
    # A replay with other bytes is refused; the same bytes again (a retried PUT) change
    # nothing and are answered as the first upload was.
    assert alice.put(url, b"overwritten\n").status_code == 403
    assert alice.put(url, b"first\n").status_code == 200
    assert alice.get(_download_urls(alice, ["note.txt"])["note.txt"]).content == b"first\n"
    # A new URL for the same name is how a file is replaced (wandb.save policy "live").
    _, again = _run_with_files(alice, {"note.txt": b"second\n"})
    assert alice.get(_download_urls(alice, ["note.txt"])["note.txt"]).content == b"second\n"
    assert alice.put(again["note.txt"], b"third\n").status_code == 403

    # A manifest URL asked for without a digest (the SDK's first CreateArtifactManifest)
    # takes any manifest, once.
    artifact_id = alice.create("data", "set", {})["id"]
    body = alice.gql(MANIFEST, {"artifactID": artifact_id, "digest": ""})
    manifest_url = body["data"]["createArtifactManifest"]["artifactManifest"]["file"][
        "uploadUrl"]
    doc, other = manifest_bytes({}), manifest_bytes({"x": b""})
    assert alice.put(manifest_url, doc).status_code == 200
    assert alice.put(manifest_url, other).status_code == 403
    assert alice.put(manifest_url, doc).status_code == 200
    assert "errors" not in alice.commit(artifact_id)


def test_download_urls_die_with_their_run_or_artifact(local_app: InProcessApp) -> None:
    alice = new_caller(local_app, "alice")
    run_id, _ = _run_with_files(alice, {"note.txt": FILES["note.txt"]})
    run_url = _download_urls(alice, ["note.txt"])["note.txt"]
    artifact_id = alice.log("data", "set", {"a.bin": b"artifact bytes"})
    artifact_urls = alice.file_urls(artifact_id, ["a.bin"])
    assert alice.get(run_url).content == FILES["note.txt"]
    assert alice.get(artifact_urls["a.bin"]).content == b"artifact bytes"

    assert "errors" not in alice.gql(DELETE_RUN, {"id": run_id})
    assert "errors" not in alice.gql(DELETE_ARTIFACT, {"id": artifact_id})
    for url in (run_url, *artifact_urls.values()):
        assert alice.get(url).status_code == 404, url
    # The bytes are still stored (content-addressed, maybe shared): only the URLs died.
    assert local_app.storage.blobs.exists(
        "cas/" + "/".join(_cas(b"artifact bytes")))


def _cas(data: bytes) -> tuple[str, str, str]:
    digest = hashlib.md5(data).hexdigest()
    return digest[:2], digest[2:4], digest


def test_unsafe_types_download_as_attachments(app: InProcessApp) -> None:
    alice = new_caller(app, "alice")
    _run_with_files(alice, FILES)
    artifact_id = alice.log("data", "site", {"index.html": FILES["page.html"]})
    urls = {**_download_urls(alice, list(FILES)),
            "artifact index.html": alice.file_urls(artifact_id, ["index.html"])["index.html"]}
    direct = not urls["note.txt"].startswith(str(app.client.base_url))
    for name, url in urls.items():
        response = alice.get(url)
        assert response.status_code == 200, (name, response.text)
        media = response.headers["content-type"].split(";")[0]
        disposition = response.headers.get("content-disposition", "")
        if name in INLINE:
            assert media == INLINE[name] and not disposition, name
        else:
            assert media == "application/octet-stream", name
            assert disposition.startswith("attachment;"), name
        if not direct:  # a bucket's presigned GET cannot add it (see the README)
            assert response.headers["x-content-type-options"] == "nosniff", name
        if direct:
            query = parse_qs(urlsplit(url).query)
            assert query["X-Amz-Expires"] == ["3600"], name
