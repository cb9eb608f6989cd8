"""The SDK's artifact logging flow (PROTOCOL §2.4) as one user, against the in-process app.

Raw GraphQL and PUTs, so a test can stop anywhere in the flow, name digests it never
uploads, or replay a URL: what the SDK never does on its own but an attacker may.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.app import InProcessApp
from tracklet.domain.artifacts import ManifestEntry, manifest_digest

CREATE = """mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state versionIndex
    artifactSequence { name project { name entity { name } } }
    currentManifest { id } } } }"""
MANIFEST = """mutation M($artifactID: ID!, $digest: String!) {
  createArtifactManifest(input: {artifactID: $artifactID, name: "wandb_manifest.json",
    digest: $digest, entityName: "", projectName: "", runName: "", type: FULL}) {
    artifactManifest { id file { uploadUrl uploadHeaders } } } }"""
FILES = """mutation F($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) {
  files { edges { node { name storagePath uploadUrl uploadHeaders artifact { id } } } } } }"""
COMMIT = """mutation C($id: ID!) { commitArtifact(input: {artifactID: $id}) {
  artifact { id state versionIndex } } }"""
FILE_URLS = """query U($id: ID!, $entries: [ArtifactManifestEntryInput!]) {
  artifact(id: $id) { state currentManifest { file { directUrl } }
    filesByManifestEntries(entries: $entries) { edges { node { name directUrl } } } } }"""


def md5_b64(data: bytes) -> str:
    """The base64 MD5 digest W&B uses for file contents."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def manifest_bytes(contents: dict[str, bytes]) -> bytes:
    """A V2 manifest naming each file by its content digest."""
    return json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                       "storagePolicyConfig": {"storageLayout": "V2"},
                       "contents": {p: {"digest": md5_b64(d), "size": len(d)}
                                    for p, d in contents.items()}}).encode()


@dataclass
class Caller:
    """One user of the in-process app: their key and entity."""

    app: InProcessApp
    key: str
    entity: str

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL document with this user's key; the whole response body (a domain
        error comes as ``errors`` with a 4xx status)."""
        response = self.app.client.post("/graphql", auth=("api", self.key), json={
            "query": query, "variables": variables or {}})
        assert response.status_code < 500, response.text
        body: dict[str, Any] = response.json()
        return body

    def put(self, url: str, data: bytes) -> httpx.Response:
        """PUT to a signed URL with no credentials, as wandb-core does."""
        return self.app.client.put(url, content=data, auth=None)

    def get(self, url: str) -> httpx.Response:
        """GET a signed download URL with no credentials (tracklet's, or a bucket's)."""
        if url.startswith(str(self.app.client.base_url)):
            return self.app.client.get(url, auth=None)
        return httpx.get(url)

    def create(self, project: str, name: str, contents: dict[str, bytes],
               client_id: str | None = None) -> dict[str, Any]:
        """CreateArtifact for ``contents``; the artifact it answers."""
        entries = [ManifestEntry(p, md5_b64(d), len(d)) for p, d in contents.items()]
        body = self.gql(CREATE, {"input": {
            "entityName": self.entity, "projectName": project, "artifactTypeName": "dataset",
            "artifactCollectionName": name, "digest": manifest_digest(entries),
            "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True,
            "clientID": client_id,
            "aliases": [{"artifactCollectionName": name, "alias": "latest"}]}})
        assert "errors" not in body, body
        artifact: dict[str, Any] = body["data"]["createArtifact"]["artifact"]
        return artifact

    def request_files(self, artifact_id: str, digests: dict[str, str]) -> list[dict[str, Any]]:
        """CreateArtifactFiles for ``{name: base64 md5}``; the nodes, in request order."""
        body = self.gql(FILES, {"input": {"storageLayout": "V2", "artifactFiles": [
            {"artifactID": artifact_id, "name": n, "md5": d} for n, d in digests.items()]}})
        assert "errors" not in body, body
        return [e["node"] for e in body["data"]["createArtifactFiles"]["files"]["edges"]]

    def manifest_url(self, artifact_id: str, doc: bytes) -> str:
        """The upload URL CreateArtifactManifest hands out for manifest ``doc``."""
        body = self.gql(MANIFEST, {"artifactID": artifact_id, "digest": md5_b64(doc)})
        assert "errors" not in body, body
        url: str = body["data"]["createArtifactManifest"]["artifactManifest"]["file"][
            "uploadUrl"]
        return url

    def commit(self, artifact_id: str) -> dict[str, Any]:
        """CommitArtifact; the whole response body."""
        return self.gql(COMMIT, {"id": artifact_id})

    def log(self, project: str, name: str, contents: dict[str, bytes],
            client_id: str | None = None) -> str:
        """The whole flow, uploading what the server asks for; the committed artifact's id."""
        artifact_id: str = self.create(project, name, contents, client_id)["id"]
        nodes = self.request_files(artifact_id, {p: md5_b64(d) for p, d in contents.items()})
        for node in nodes:
            if node["uploadUrl"]:
                assert self.put(node["uploadUrl"], contents[node["name"]]).status_code == 200
        doc = manifest_bytes(contents)
        assert self.put(self.manifest_url(artifact_id, doc), doc).status_code == 200
        body = self.commit(artifact_id)
        assert "errors" not in body, body
        return artifact_id

    def file_urls(self, artifact_id: str, names: list[str]) -> dict[str, str]:
        """The download URLs of files ``names``, and the manifest's (``wandb_manifest.json``)."""
        body = self.gql(FILE_URLS, {"id": artifact_id, "entries": [
            {"name": n, "digest": ""} for n in names]})
        assert "errors" not in body, body
        artifact = body["data"]["artifact"]
        urls = {e["node"]["name"]: e["node"]["directUrl"]
                for e in artifact["filesByManifestEntries"]["edges"]}
        urls["wandb_manifest.json"] = artifact["currentManifest"]["file"]["directUrl"]
        return urls


def new_caller(app: InProcessApp, name: str) -> Caller:
    """A new non-admin user of ``app``."""
    user, key = app.storage.create_user(name)
    return Caller(app, key, user.entity)
