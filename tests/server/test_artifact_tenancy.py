"""Issue 17, findings 2 and 3: content addressing and client ids grant nothing across entities.

2. Knowing a file's MD5 is not possessing it: ``createArtifactFiles`` answers another
   entity's digest as it answers an unknown one (an upload URL), a manifest naming it is not
   committed until the bytes are uploaded, and the upload of identical bytes is what proves
   possession.
3. ``createArtifact`` with another entity's ``clientID`` answers as for an unknown id: a new
   pending version in the caller's entity, nothing of the other artifact.
"""

from __future__ import annotations

import base64
import hashlib
import os

from tests.support.app import InProcessApp
from tests.support.artifact_flow import Caller, manifest_bytes, md5_b64, new_caller

SECRET = b"alice's training data, not for mallory\n"
IDS = "query Q($c: ID!) { clientIDMapping(clientID: $c) { serverID } }"


def _shape(node: dict[str, object], md5: str) -> dict[str, object]:
    # What may differ between two answers: the signature and the digest the caller sent.
    return {k: (v is not None) if k in ("uploadUrl", "storagePath") else v
            for k, v in node.items() if k not in ("name", "artifact")} | {
        "uploadHeaders": [h.replace(md5, "<md5>") for h in node["uploadHeaders"]]}


def test_a_known_digest_reads_nothing_of_another_entity(app: InProcessApp) -> None:
    alice, mallory = new_caller(app, "alice"), new_caller(app, "mallory")
    alice.log("data", "private", {"secret.txt": SECRET})

    stolen = {"stolen.txt": SECRET}
    artifact = mallory.create("loot", "loot", stolen)
    assert artifact["state"] == "PENDING"
    unknown = base64.b64encode(hashlib.md5(os.urandom(16)).digest()).decode()
    known_node, unknown_node = mallory.request_files(
        artifact["id"], {"stolen.txt": md5_b64(SECRET), "never.txt": unknown})
    # Another entity's digest is answered like one nobody has: an upload URL, same headers.
    assert known_node["uploadUrl"] is not None
    assert _shape(known_node, md5_b64(SECRET)) == _shape(unknown_node, unknown)
    assert known_node["uploadHeaders"] == [f"Content-MD5:{md5_b64(SECRET)}"]

    # A manifest naming the digest without an upload is not committed.
    doc = manifest_bytes(stolen)
    assert mallory.put(mallory.manifest_url(artifact["id"], doc), doc).status_code == 200
    body = mallory.commit(artifact["id"])
    assert "never uploaded: stolen.txt" in body["errors"][0]["message"]
    # Nor does the V1 fallback download find it by MD5 in her entity.
    fallback = app.client.get(f"/artifacts/{mallory.entity}/{hashlib.md5(SECRET).hexdigest()}",
                              auth=("api", mallory.key))
    assert fallback.status_code == 404

    # Other bytes under that digest are refused; the very bytes prove possession.
    assert mallory.put(known_node["uploadUrl"], b"guess\n").status_code == 400
    assert mallory.put(known_node["uploadUrl"], SECRET).status_code == 200
    assert "errors" not in mallory.commit(artifact["id"])
    got = mallory.get(mallory.file_urls(artifact["id"], ["stolen.txt"])["stolen.txt"])
    assert got.status_code == 200 and got.content == SECRET


def test_a_readable_digest_needs_no_upload(app: InProcessApp) -> None:
    alice = new_caller(app, "alice")
    alice.log("data", "v0", {"a.txt": SECRET})
    # Alice's next version reuses the bytes of a file she can read: no upload asked for,
    # and the manifest commits without one.
    contents = {"a.txt": SECRET, "b.txt": b"new\n"}
    artifact_id = alice.create("data", "v1", contents)["id"]
    nodes = alice.request_files(artifact_id, {p: md5_b64(d) for p, d in contents.items()})
    assert [n["uploadUrl"] is None for n in nodes] == [True, False]
    assert alice.put(nodes[1]["uploadUrl"], contents["b.txt"]).status_code == 200
    doc = manifest_bytes(contents)
    assert alice.put(alice.manifest_url(artifact_id, doc), doc).status_code == 200
    assert "errors" not in alice.commit(artifact_id)


def test_an_upload_proves_possession_for_its_artifact_only(app: InProcessApp) -> None:
    alice, mallory = new_caller(app, "alice"), new_caller(app, "mallory")
    alice.log("data", "private", {"secret.txt": SECRET})
    first = mallory.create("loot", "one", {"x.txt": SECRET})["id"]
    second = mallory.create("loot", "two", {"y.txt": SECRET})["id"]
    node = mallory.request_files(first, {"x.txt": md5_b64(SECRET)})[0]
    assert mallory.put(node["uploadUrl"], SECRET).status_code == 200
    assert mallory.request_files(first, {"x.txt": md5_b64(SECRET)})[0]["uploadUrl"] is None
    # The upload made for one pending artifact proves nothing for another.
    assert mallory.request_files(second, {"y.txt": md5_b64(SECRET)})[0]["uploadUrl"]
    doc = manifest_bytes({"y.txt": SECRET})
    assert mallory.put(mallory.manifest_url(second, doc), doc).status_code == 200
    assert "never uploaded: y.txt" in mallory.commit(second)["errors"][0]["message"]


def _answer(caller: Caller, client_id: str) -> dict[str, object]:
    artifact = caller.create("proj", "coll", {"f.txt": b"mine\n"}, client_id=client_id)
    return {k: v for k, v in artifact.items() if k != "id"}


def test_another_entitys_client_id_is_like_an_unknown_one(app: InProcessApp) -> None:
    alice, mallory = new_caller(app, "alice"), new_caller(app, "mallory")
    client = "c" * 128
    alice_id = alice.log("data", "private", {"secret.txt": SECRET}, client_id=client)
    assert alice.gql(IDS, {"c": client})["data"]["clientIDMapping"] == {"serverID": alice_id}

    # Before mallory logs anything: the mapping finds nothing for her, as for an unknown id.
    assert mallory.gql(IDS, {"c": client})["data"]["clientIDMapping"] is None
    foreign = mallory.create("proj", "coll", {"f.txt": b"mine\n"}, client_id=client)
    unknown = _answer(mallory, "u" * 128)
    assert foreign["id"] != alice_id
    assert {k: v for k, v in foreign.items() if k != "id"} == unknown
    assert unknown == {"state": "PENDING", "versionIndex": None, "currentManifest": None,
                       "artifactSequence": {"name": "coll", "project": {
                           "name": "proj", "entity": {"name": mallory.entity}}}}
    # Each entity's id maps to its own version; a retry of alice's finds hers.
    assert mallory.gql(IDS, {"c": client})["data"]["clientIDMapping"] == {
        "serverID": foreign["id"]}
    assert alice.gql(IDS, {"c": client})["data"]["clientIDMapping"] == {"serverID": alice_id}
    assert alice.create("data", "private", {"other": b""}, client_id=client)["id"] == alice_id
