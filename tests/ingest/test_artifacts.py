"""The artifact write path on every metadata backend and the in-memory blob store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tracklet.domain.artifacts import ArtifactState, ManifestEntry, manifest_digest
from tracklet.domain.records import User
from tracklet.errors import Conflict, InvalidInput, NotFound
from tracklet.ingest import artifact_edits as edits
from tracklet.ingest import artifact_manifests as manifests
from tracklet.ingest import artifacts as ingest
from tracklet.ingest.uploads import HashingSpool, cas_key
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo

_SPOOLS: list[HashingSpool] = []


@pytest.fixture(autouse=True)
def _close_spools() -> Iterator[None]:
    """Each spool holds a temporary file; close them all when the test ends."""
    yield
    while _SPOOLS:
        _SPOOLS.pop().close()


def _spool(data: bytes) -> HashingSpool:
    spool = HashingSpool()
    _SPOOLS.append(spool)
    spool.write(data)
    return spool


def _log(storage: Storage, user: User, files: dict[str, bytes], aliases: tuple[str, ...] = ()
         ) -> int:
    """The SDK's whole logging flow, minus HTTP."""
    entries = [ManifestEntry(p, _spool(d).md5_b64, len(d)) for p, d in files.items()]
    art = ingest.create_artifact(storage, user, ingest.CreateRequest(
        entity="alice", project="p", run_name=None, type_name="dataset", collection="data",
        digest=manifest_digest(entries), aliases=aliases))
    if art.state is ArtifactState.COMMITTED:
        return art.id
    specs = [ingest.FileSpec(art.id, e.path, e.digest) for e in entries]
    for up, data in zip(ingest.request_uploads(storage, user, specs), files.values(),
                        strict=True):
        if up.needs_upload:
            ingest.store_file(storage, _spool(data), up.spec.md5_b64, None, art.id)
    doc = json.dumps({"version": 1, "contents": {
        e.path: {"digest": e.digest, "size": e.size} for e in entries}}).encode()
    manifest = _spool(doc)
    manifests.store_manifest(storage, art.id, manifest, manifest.md5_b64)
    return ingest.commit_artifact(storage, user, art.id).id


def _alias(storage: Storage, alias: str) -> int | None:
    with storage.db.read() as conn:
        project = accounts.find_project(conn, "alice", "p")
        assert project is not None
        coll = repo.find_collection(conn, project.id, "data")
        assert coll is not None
        found = repo.find_membership(conn, coll, alias)
    return found.version_index if found else None


def test_versions_dedup_and_alias_moves(storage: Storage, user: User) -> None:
    first = _log(storage, user, {"a": b"1"}, ("prod",))
    assert _log(storage, user, {"a": b"1"}) == first
    second = _log(storage, user, {"a": b"2", "b": b""}, ("prod",))
    assert second != first
    assert (_alias(storage, "latest"), _alias(storage, "prod"), _alias(storage, "v0")) == (
        1, 1, 0)
    edits.add_aliases(storage, user, first, [edits.AliasTarget("alice", "p", "data", "prod")])
    assert _alias(storage, "prod") == 0
    with pytest.raises(Conflict):
        edits.delete_artifact(storage, user, second)
    edits.delete_artifact(storage, user, second, delete_aliases=True)
    assert _alias(storage, "v1") is None and _alias(storage, "latest") == 0


def test_upload_digest_mismatch_and_missing_files(storage: Storage, user: User) -> None:
    with pytest.raises(InvalidInput, match="MD5"):
        ingest.store_file(storage, _spool(b"wrong"), _spool(b"right").md5_b64, None, 1)
    assert not storage.blobs.exists(cas_key(_spool(b"wrong").md5_hex))
    art = ingest.create_artifact(storage, user, ingest.CreateRequest(
        entity="alice", project="p", run_name=None, type_name="dataset", collection="data",
        digest="d" * 32))
    doc = json.dumps({"version": 1, "contents": {"x": {"digest": _spool(b"x").md5_b64}}}
                     ).encode()
    manifests.store_manifest(storage, art.id, _spool(doc), None)
    with pytest.raises(InvalidInput, match="never uploaded: x"):
        ingest.commit_artifact(storage, user, art.id)


def test_other_users_cannot_write(storage: Storage, user: User) -> None:
    bob = storage.create_user("bob")[0]
    art_id = _log(storage, user, {"a": b"1"})
    # Refused as if it did not exist.
    with pytest.raises(NotFound):
        edits.delete_artifact(storage, bob, art_id, delete_aliases=True)
    with pytest.raises(NotFound):
        ingest.create_artifact(storage, bob, ingest.CreateRequest(
            entity="alice", project="p", run_name=None, type_name="dataset",
            collection="data", digest="e" * 32))


def test_expired_ttl_hides_the_version(storage: Storage, user: User) -> None:
    art_id = _log(storage, user, {"a": b"short-lived"})
    edits.update_artifact(storage, user, art_id, ttl_seconds=3600)
    assert _alias(storage, "v0") == 0
    with storage.db.write() as conn:
        repo.update_artifact(conn, art_id, committed_at=1.0)
    assert _alias(storage, "v0") is None and _alias(storage, "latest") is None
