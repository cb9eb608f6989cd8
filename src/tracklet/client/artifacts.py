"""Versioned artifacts in the light client, over the wire protocol the wandb SDK uses
(``CreateArtifact``, ``CreateArtifactManifest``, ``CreateArtifactFiles``, signed PUTs,
``CommitArtifact``, ``UseArtifact``), so ``wandb.Api().artifact(...)`` reads them like the
SDK's own and the server keeps one ingestion path.

``run.log_artifact`` stages a copy of the files in the run directory at call time and
journals the request; the uploader (or ``tracklet sync``) uploads it later. Every request
carries a client id chosen when it was journaled, so a retried or re-synced upload finds the
version it started instead of creating another.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracklet.client.wire import Connection, RunAddress, WireError

#: Where a run keeps the staged copies of the artifacts it logs.
STAGING = "artifacts"
#: Files per CreateArtifactFiles request.
FILES_PER_REQUEST = 500

CREATE_ARTIFACT = """
mutation CreateArtifact($entity: String!, $project: String!, $run: String, $type: String!,
    $collection: String!, $digest: String!, $description: String, $metadata: JSONString,
    $aliases: [ArtifactAliasInput!], $clientID: ID, $sequenceClientID: ID) {
  createArtifact(input: {entityName: $entity, projectName: $project, runName: $run,
      artifactTypeName: $type, artifactCollectionName: $collection, digest: $digest,
      digestAlgorithm: MANIFEST_MD5, description: $description, metadata: $metadata,
      aliases: $aliases, clientID: $clientID, sequenceClientID: $sequenceClientID,
      enableDigestDeduplication: true}) {
    artifact { id state versionIndex artifactSequence { latestArtifact { id } } }
  }
}
"""

CREATE_MANIFEST = """
mutation CreateArtifactManifest($artifactID: ID!, $base: ID, $digest: String!,
    $entity: String!, $project: String!, $run: String) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $base,
      name: "wandb_manifest.json", digest: $digest, entityName: $entity,
      projectName: $project, runName: $run, type: FULL}) {
    artifactManifest { id file { uploadUrl uploadHeaders } }
  }
}
"""

CREATE_FILES = """
mutation CreateArtifactFiles($files: [CreateArtifactFileSpecInput!]!) {
  createArtifactFiles(input: {artifactFiles: $files, storageLayout: V2}) {
    files { edges { node { name uploadUrl uploadHeaders storagePath artifact { id } } } }
  }
}
"""

COMMIT_ARTIFACT = """
mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } }
}
"""

USE_ARTIFACT = """
mutation UseArtifact($entity: String!, $project: String!, $run: String!, $artifactID: ID!) {
  useArtifact(input: {entityName: $entity, projectName: $project, runName: $run,
      artifactID: $artifactID}) { artifact { id } }
}
"""

FIND_ARTIFACT = """
query TrackletArtifact($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) {
      artifact { id digest versionIndex artifactType { name } artifactSequence { name } }
    }
  }
}
"""

ARTIFACT_FILES = """
query TrackletArtifactFiles($entity: String!, $project: String!, $name: String!,
    $after: String) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) {
      files(first: 1000, after: $after) {
        edges { node { name md5 sizeBytes directUrl } }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""


def md5_b64(path: Path) -> str:
    """base64 MD5 of a file, the digest the manifest and ``Content-MD5`` carry."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def stage(source: Path, target: Path) -> None:
    """Copy the file or directory ``source`` to ``target`` (a new directory): the bytes the
    artifact will hold, whatever happens to ``source`` later."""
    if source.is_dir():
        shutil.copytree(source, target)
    elif source.is_file():
        target.mkdir(parents=True)
        shutil.copyfile(source, target / source.name)
    else:
        raise FileNotFoundError(f"no file or directory {source}")


def entries(staged: Path) -> dict[str, tuple[Path, str, int]]:
    """Every file under ``staged`` by its slash path: (file, base64 MD5, size)."""
    out: dict[str, tuple[Path, str, int]] = {}
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        out[path.relative_to(staged).as_posix()] = (path, md5_b64(path), path.stat().st_size)
    return out


def artifact_digest(files: dict[str, tuple[Path, str, int]]) -> str:
    """The artifact's digest as the SDK computes it (hex MD5 over sorted path:digest)."""
    text = "wandb-artifact-manifest-v1\n" + "".join(
        f"{name}:{files[name][1]}\n" for name in sorted(files))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def upload(connection: Connection, address: RunAddress, request: dict[str, Any],
           run_dir: Path) -> dict[str, Any]:
    """Create, upload and commit the version a journaled ``log_artifact`` asked for; the
    committed artifact's ``id`` and ``versionIndex``. Raises WireError."""
    files = entries(run_dir / request["staged"])
    common = {"entity": address.entity, "project": address.project, "run": address.name}
    created = connection.graphql(CREATE_ARTIFACT, {
        **common, "type": request["type"], "collection": request["name"],
        "digest": artifact_digest(files), "description": request.get("description"),
        "metadata": json.dumps(request.get("metadata") or {}),
        "aliases": [{"artifactCollectionName": request["name"], "alias": a}
                    for a in ["latest", *request.get("aliases", [])]],
        "clientID": request["client_id"], "sequenceClientID": request["sequence_client_id"],
    })["createArtifact"]["artifact"]
    artifact_id = created["id"]
    if created["state"] == "COMMITTED":
        return {"id": artifact_id, "versionIndex": created.get("versionIndex")}
    base = ((created.get("artifactSequence") or {}).get("latestArtifact") or {}).get("id")
    manifest = {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                "storagePolicyConfig": {"storageLayout": "V2"},
                "contents": {name: {"digest": md5, "size": size, "birthArtifactID": artifact_id}
                             for name, (_, md5, size) in files.items()}}
    names = list(files)
    for start in range(0, len(names), FILES_PER_REQUEST):
        chunk = names[start:start + FILES_PER_REQUEST]
        edges = connection.graphql(CREATE_FILES, {"files": [
            {"artifactID": artifact_id, "name": n, "md5": files[n][1]} for n in chunk]},
        )["createArtifactFiles"]["files"]["edges"]
        for name, edge in zip(chunk, edges, strict=True):
            node = edge["node"]
            if node.get("uploadUrl"):
                connection.put(node["uploadUrl"], files[name][0].read_bytes(),
                               list(node.get("uploadHeaders") or []))
    body = json.dumps(manifest).encode()
    digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    answer = connection.graphql(CREATE_MANIFEST, {**common, "artifactID": artifact_id,
                                                  "base": base, "digest": digest})
    file = answer["createArtifactManifest"]["artifactManifest"]["file"]
    connection.put(file["uploadUrl"], body, list(file.get("uploadHeaders") or []))
    committed = connection.graphql(COMMIT_ARTIFACT, {"artifactID": artifact_id})
    return {"id": committed["commitArtifact"]["artifact"]["id"]}


@dataclass(frozen=True)
class ArtifactVersion:
    """A committed artifact version found by name (what ``run.use_artifact`` returns)."""

    id: str
    entity: str
    project: str
    name: str
    version: int | None
    type: str
    digest: str
    _connection: Connection | None = None

    @property
    def qualified_name(self) -> str:
        """``name:vN``."""
        return f"{self.name}:v{self.version}"

    def download(self, root: str | Path | None = None) -> Path:
        """Fetch every file into ``root`` (default ``./artifacts/<name>:v<N>``), checking
        each file's MD5; returns the folder."""
        if self._connection is None:
            raise WireError("an offline run cannot download artifacts", retryable=False)
        target = Path(root) if root is not None else Path("artifacts") / self.qualified_name
        for node in _files(self._connection, self.entity, self.project,
                           self.qualified_name):
            path = target / node["name"]
            if not path.resolve().is_relative_to(target.resolve()):
                raise WireError(f"artifact file name {node['name']!r} escapes the folder",
                                retryable=False)
            if path.is_file() and md5_b64(path) == node["md5"]:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(_get(self._connection, node["directUrl"]))
            if md5_b64(tmp) != node["md5"]:
                tmp.unlink()
                raise WireError(f"{node['name']}: downloaded bytes do not match the MD5",
                                retryable=True)
            tmp.replace(path)
        return target


def find(connection: Connection, entity: str, project: str, name: str) -> ArtifactVersion:
    """The version ``name`` (``collection:alias``) of ``entity/project``; WireError when
    there is none."""
    data = connection.graphql(FIND_ARTIFACT, {"entity": entity, "project": project,
                                              "name": name})
    membership = (data.get("project") or {}).get("artifactCollectionMembership")
    if not membership or not membership.get("artifact"):
        raise WireError(f"no artifact {entity}/{project}/{name}", retryable=False)
    a = membership["artifact"]
    return ArtifactVersion(id=a["id"], entity=entity, project=project,
                           name=a["artifactSequence"]["name"], version=a.get("versionIndex"),
                           type=a["artifactType"]["name"], digest=a["digest"],
                           _connection=connection)


def use(connection: Connection, address: RunAddress, artifact_id: str) -> None:
    """Record that the run at ``address`` used the artifact ``artifact_id``."""
    connection.graphql(USE_ARTIFACT, {"entity": address.entity, "project": address.project,
                                      "run": address.name, "artifactID": artifact_id})


def split_name(name: str, entity: str, project: str) -> tuple[str, str, str]:
    """``[entity/][project/]collection[:alias]`` as (entity, project, collection:alias),
    ``latest`` when no alias is given."""
    parts = name.split("/")
    if len(parts) > 3 or not all(parts):
        raise ValueError(f"artifact name {name!r} is not [entity/][project/]name[:alias]")
    if len(parts) == 3:
        entity, project = parts[0], parts[1]
    elif len(parts) == 2:
        project = parts[0]
    collection = parts[-1]
    if ":" not in collection:
        collection += ":latest"
    return entity, project, collection


def _files(connection: Connection, entity: str, project: str,
           name: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = connection.graphql(ARTIFACT_FILES, {"entity": entity, "project": project,
                                                   "name": name, "after": after})
        membership = (data.get("project") or {}).get("artifactCollectionMembership") or {}
        files = membership.get("files") or {}
        nodes.extend(e["node"] for e in files.get("edges") or [])
        page = files.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return nodes
        after = page.get("endCursor")


def _get(connection: Connection, url: str) -> bytes:
    """An unauthenticated GET of a (signed) download URL, as the SDK does."""
    if url.startswith("/"):
        url = connection.base_url + url
    request = urllib.request.Request(url, headers={"User-Agent": "tracklet-client"})
    try:
        with urllib.request.urlopen(request, timeout=max(connection.timeout, 300)) as answer:
            data: bytes = answer.read()
            return data
    except urllib.error.HTTPError as exc:
        raise WireError(f"download: HTTP {exc.code}", status=exc.code, retryable=True) from None
    except OSError as exc:
        raise WireError(f"download: {exc!r}", retryable=True) from None
