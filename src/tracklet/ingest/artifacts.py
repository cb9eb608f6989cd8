"""Logging artifacts the way the SDK drives it: create, upload files, manifest, commit.

Flow (PROTOCOL §2.4): ``create_artifact`` makes a PENDING version (or answers a COMMITTED
one when the same content is already in the sequence); the client asks for upload URLs
(``request_uploads``), PUTs each file and the manifest, then ``commit_artifact`` checks that
every file the manifest names is stored, records the files and makes the version visible
with the next version index and its aliases.

Blobs are content-addressed by MD5, but a digest grants nothing: a manifest entry may name a
digest only when its bytes were uploaded for this artifact (an upload proves possession) or
the committer may read a file that holds them. ``request_uploads`` answers alike whether
the digest is stored or not, unless the caller may read a holder: then no upload is needed.
Client ids belong to the entity that logged them: another entity's id finds nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
from sqlalchemy import Connection

from tracklet.domain.artifacts import (
    TTL_INHERIT,
    Artifact,
    ArtifactState,
    CollectionKind,
    ManifestEntry,
    manifest_digest,
    md5_b64_to_hex,
    md5_hex_to_b64,
    validate_alias,
    validate_artifact_name,
    validate_type_name,
)
from tracklet.domain.artifacts import (
    Collection as ArtifactCollection,
)
from tracklet.domain.names import validate_file_path, validate_name, validate_tag
from tracklet.domain.policy import Action, can, require
from tracklet.domain.records import Run, User
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest.artifact_manifests import MERGED_TYPES, read_manifest
from tracklet.ingest.uploads import (
    HashingSpool,
    StoredBlob,
    UploadToken,
    cas_key,
    check_md5,
    store_spool,
)
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifact_lineage as lineage
from tracklet.storage.metadata import artifacts as repo
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata import upload_grants as grants
from tracklet.storage.teams import ensure_writable_entity

_MAX_TAGS = 100
_Owned = TypeVar("_Owned", Artifact, ArtifactCollection)


@dataclass(frozen=True)
class CreateRequest:
    """What CreateArtifact asks for (PROTOCOL §2.4 step 2)."""

    entity: str
    project: str
    run_name: str | None
    type_name: str
    collection: str
    digest: str
    digest_algorithm: str = "MANIFEST_MD5"
    description: str | None = None
    metadata: str | None = None
    aliases: tuple[str, ...] = ()
    client_id: str | None = None
    sequence_client_id: str | None = None
    deduplicate: bool = True
    history_step: int | None = None
    ttl_seconds: int | None = None
    tags: tuple[str, ...] = ()
    distributed_id: str | None = None
    storage_region: str | None = None


@dataclass(frozen=True)
class FileSpec:
    """One file of a CreateArtifactFiles batch."""

    artifact_id: int
    name: str
    md5_b64: str
    parts: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class FileUpload:
    """The answer for one file: where it goes, and whether its bytes are still needed."""

    spec: FileSpec
    artifact: Artifact
    md5_hex: str
    storage_path: str
    needs_upload: bool
    upload_id: str | None = None
    part_numbers: tuple[int, ...] = field(default=())


def _run(conn: Connection, entity: str, project: str, name: str) -> Run:
    return run_repo.get_run_by_path(conn, entity, project, name)


def metadata_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = loads(value)
    except ValueError:
        raise InvalidInput("artifact metadata must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("artifact metadata must be a JSON object")
    return value


def ttl_values(value: int | None) -> tuple[int | None, bool]:
    """(ttl_seconds, inherited) for an input TTL: None/-1 inherit, -2 disabled, >0 seconds."""
    if value is None or value == TTL_INHERIT:
        return None, True
    if value > 0 or value == -2:
        return value, False
    raise InvalidInput(f"invalid ttlDurationSeconds {value}")


def validate_tags(values: tuple[str, ...]) -> list[str]:
    if len(values) > _MAX_TAGS:
        raise InvalidInput(f"at most {_MAX_TAGS} tags per artifact")
    return [validate_tag(t) for t in dict.fromkeys(values)]


def can_read_artifact(conn: Connection, user: User, artifact: Artifact) -> bool:
    """Whether ``user`` may read ``artifact``: through its own project, or through any
    collection it is linked into that they may read (a registry's readers read what is
    linked there, not the run or project it came from)."""
    if can(user, Action.READ, artifact.entity, artifact.project):
        return True
    return any(can(user, Action.READ, m.collection.entity, m.collection.project)
               for m in repo.memberships_of_artifact(conn, artifact.id))


def writable_collection(conn: Connection, user: User, collection_id: int
                        ) -> ArtifactCollection:
    """The collection ``collection_id`` if the caller may change it; NotFound otherwise
    (the same answer for one that does not exist)."""
    collection = repo.get_collection(conn, collection_id)
    if collection is None:
        raise NotFound("artifact collection not found")
    require(user, Action.WRITE, collection.entity, collection.project,
            missing="artifact collection not found")
    return collection


def get_artifact(storage: Storage, user: User, artifact_id: int, write: bool = False
                 ) -> Artifact:
    """An artifact the caller may see (or change); NotFound otherwise."""
    missing = NotFound(f"artifact {artifact_id} not found")
    with storage.db.read() as conn:
        artifact = repo.get_artifact(conn, artifact_id)
        if artifact is None:
            raise missing
        if not write:
            if not can_read_artifact(conn, user, artifact):
                raise missing
            return artifact
    require(user, Action.WRITE, artifact.entity, artifact.project,
            missing=f"artifact {artifact_id} not found")
    return artifact


def create_artifact(storage: Storage, user: User, req: CreateRequest,
                    regions: Collection[str] = ("default",)) -> Artifact:
    """A new PENDING version, or the existing COMMITTED one with the same digest.

    Retries are safe: a second request with the same client id returns the first version.
    On a deduplication hit the requested aliases move to the existing version. A version of
    a distributed artifact (``distributed_id``) joins the pending one other runs started.
    ``regions`` are the storage regions the server accepts (all stored alike).
    """
    validate_name("entity", req.entity)
    validate_name("project", req.project)
    validate_artifact_name(req.collection)
    validate_type_name(req.type_name)
    aliases = [validate_alias(a) for a in dict.fromkeys(req.aliases) if a != "latest"]
    tags = validate_tags(req.tags)
    metadata = metadata_text(req.metadata)
    ttl_seconds, ttl_inherited = ttl_values(req.ttl_seconds)
    if not isinstance(req.digest, str) or not 0 < len(req.digest) <= 128:
        raise InvalidInput("artifact digest must be a non-empty string")
    if req.digest_algorithm not in ("MANIFEST_MD5", "MANIFEST_XXH128"):
        raise InvalidInput(f"unsupported digest algorithm {req.digest_algorithm!r}")
    if req.storage_region is not None and req.storage_region not in regions:
        raise InvalidInput(
            f"invalid storageRegion {req.storage_region!r}: this server accepts "
            f"{', '.join(repr(r) for r in regions)}")
    if req.distributed_id is not None and not 0 < len(req.distributed_id) <= 128:
        raise InvalidInput("distributedID must be 1-128 characters")
    require(user, Action.WRITE, req.entity, req.project)
    with storage.db.write() as conn:
        if req.client_id:
            # A retry finds its first answer; another entity's id is like an unknown one.
            for existing in repo.artifacts_by_client_id(conn, req.client_id):
                if existing.entity == req.entity:
                    return existing
        # An entity that does not exist is an error the user sees, not a new entity.
        entity = ensure_writable_entity(conn, user, req.entity)
        project = accounts.ensure_project(conn, entity, req.project)
        run = _run(conn, req.entity, req.project, req.run_name) if req.run_name else None
        sequence = repo.ensure_collection(conn, project, req.collection, req.type_name,
                                          CollectionKind.SEQUENCE, req.sequence_client_id)
        if req.distributed_id:
            joined = repo.pending_distributed(conn, sequence.id, req.distributed_id)
            if joined is not None:
                # Another run of the same distributed artifact: add to its pending version.
                repo.add_pending_aliases(conn, joined.id, aliases)
                if run is not None:
                    lineage.add_output(conn, run.id, joined.id)
                return joined
        elif req.deduplicate:
            same = repo.committed_by_digest(conn, sequence.id, req.digest)
            if same is not None:
                for alias in ["latest", *aliases]:
                    repo.set_alias(conn, sequence.id, same.id, alias)
                if run is not None:
                    lineage.add_output(conn, run.id, same.id)
                return same
        artifact_id = repo.insert_artifact(
            conn, sequence_id=sequence.id, type_id=sequence.type_id, digest=req.digest,
            digest_algorithm=req.digest_algorithm, state=ArtifactState.PENDING.value,
            description=req.description, metadata=metadata,
            tags=orjson.dumps(tags).decode(), pending_aliases=orjson.dumps(aliases).decode(),
            size=0, file_count=0, history_step=req.history_step, ttl_seconds=ttl_seconds,
            ttl_inherited=ttl_inherited, created_by_run_id=run.id if run else None,
            scoped_client_id=req.client_id or None, distributed_id=req.distributed_id or None)
        created = repo.get_artifact(conn, artifact_id)
    assert created is not None
    return created


def find_by_client_id(storage: Storage, user: User, client_id: str,
                      sequence: bool = False) -> Artifact | None:
    """The artifact logged with ``client_id`` that ``user`` may read (one of their own
    entity's first), or None; with ``sequence``, else the latest live version of the
    sequence logged with that sequence client id. Unreadable ones are as unknown."""
    with storage.db.read() as conn:
        found = _readable_first(user, repo.artifacts_by_client_id(conn, client_id))
        if found is None and sequence:
            for collection in _readable(user, repo.collections_by_client_id(conn, client_id)):
                found = repo.latest_live(conn, collection.id)
                if found is not None:
                    break
    return found


def _readable(user: User, items: list[_Owned]) -> list[_Owned]:
    mine = [i for i in items if i.entity == user.entity]
    return mine + [i for i in items
                   if i.entity != user.entity and can(user, Action.READ, i.entity, i.project)]


def _readable_first(user: User, items: list[Artifact]) -> Artifact | None:
    readable = _readable(user, items)
    return readable[0] if readable else None


def readable_digests(storage: Storage, user: User, artifact_id: int,
                     digests_b64: Collection[str]) -> set[str]:
    """The digests (base64) among ``digests_b64`` a manifest of artifact ``artifact_id``
    may name for ``user``: uploaded for that artifact, or held by a file ``user`` may read."""
    canonical = {d: md5_hex_to_b64(md5_b64_to_hex(d)) for d in digests_b64}
    with storage.db.read() as conn:
        proven = {md5_hex_to_b64(h) for h in grants.proven(
            conn, artifact_id, (md5_b64_to_hex(d) for d in canonical.values()))}
        # Only what this artifact's uploads do not cover needs its holders looked up.
        holders = grants.digest_holders(conn, set(canonical.values()) - proven)
    return {d for d, c in canonical.items()
            if c in proven or any(can(user, Action.READ, entity, project)
                                  for entity, project in holders.get(c, ()))}


def _pending(storage: Storage, user: User, artifact_id: int) -> Artifact:
    artifact = get_artifact(storage, user, artifact_id, write=True)
    if artifact.state is ArtifactState.DELETED:
        raise InvalidInput(f"artifact {artifact_id} was deleted")
    return artifact


def request_uploads(storage: Storage, user: User, specs: list[FileSpec]) -> list[FileUpload]:
    """Upload instructions per file, in request order.

    No upload is needed for content the caller may already reference (uploaded for this
    artifact, or in a file they may read); any other digest gets an upload URL, stored or
    not, so the answer tells nothing about other tenants' files.
    """
    checked: dict[int, Artifact] = {}
    for spec in specs:
        if spec.artifact_id not in checked:
            checked[spec.artifact_id] = _pending(storage, user, spec.artifact_id)
        validate_file_path(spec.name)
        md5_b64_to_hex(spec.md5_b64)
    known = {aid: readable_digests(storage, user, aid,
                                   {s.md5_b64 for s in specs if s.artifact_id == aid})
             for aid in checked}
    out = []
    for spec in specs:
        artifact = checked[spec.artifact_id]
        md5_hex = md5_b64_to_hex(spec.md5_b64)
        key = cas_key(md5_hex)
        if spec.md5_b64 in known[spec.artifact_id] and storage.blobs.exists(key):
            out.append(FileUpload(spec, artifact, md5_hex, key, needs_upload=False))
        elif spec.parts:
            out.append(_start_multipart(storage, spec, artifact, md5_hex, key))
        else:
            out.append(FileUpload(spec, artifact, md5_hex, key, needs_upload=True))
    return out


def _start_multipart(storage: Storage, spec: FileSpec, artifact: Artifact, md5_hex: str,
                     key: str) -> FileUpload:
    numbers = [n for n, _ in spec.parts]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise InvalidInput(f"{spec.name}: multipart part numbers must be 1..{len(numbers)}")
    upload_id = secrets.token_hex(16)
    with storage.db.write() as conn:
        repo.start_multipart(conn, upload_id, spec.artifact_id, md5_hex, len(numbers))
    return FileUpload(spec, artifact, md5_hex, key, needs_upload=True, upload_id=upload_id,
                      part_numbers=tuple(numbers))


def part_key(upload_id: str, part: int) -> str:
    """Where one multipart part waits until the upload is completed."""
    return f"multipart/{upload_id}/{part:05d}"


def store_file(storage: Storage, spool: HashingSpool, md5_b64: str,
               content_md5: str | None, artifact_id: int,
               token: UploadToken | None = None) -> StoredBlob:
    """Keep an uploaded artifact file for artifact ``artifact_id`` (proof that its uploader
    holds these bytes); InvalidInput when they do not match the digest, NotFound when the
    artifact is gone, PermissionDenied when ``token`` was spent on other bytes."""
    check_md5(spool.md5_b64, md5_b64, "artifact file")
    check_md5(spool.md5_b64, content_md5, "Content-MD5")
    with storage.db.read() as conn:
        if repo.get_artifact(conn, artifact_id) is None:
            raise NotFound("the artifact this upload URL was made for no longer exists")
    if token is not None:
        token.check(storage, spool.md5_hex)
    blob = store_spool(storage, spool)
    with storage.db.write() as conn:
        if token is None or token.spend(conn, spool.md5_hex):
            grants.add_proof(conn, artifact_id, spool.md5_hex)
    return blob


def store_part(storage: Storage, spool: HashingSpool, upload_id: str, part: int,
               content_md5: str | None, token: UploadToken | None = None) -> str:
    """Keep one multipart part; returns its ETag (the part's hex MD5). With ``token``, a
    retry of the same bytes changes nothing and other bytes are refused."""
    with storage.db.read() as conn:
        found = repo.get_multipart(conn, upload_id)
    if found is None:
        raise NotFound("multipart upload not found (completed or never started)")
    if not 1 <= part <= found.part_count:
        raise InvalidInput(f"part number {part} is outside 1..{found.part_count}")
    check_md5(spool.md5_b64, content_md5, f"part {part} Content-MD5")
    if token is not None and not token.check(storage, spool.md5_hex):
        return spool.md5_hex
    spool.file.seek(0)
    storage.blobs.put(part_key(upload_id, part), spool.file)
    if token is not None:
        with storage.db.write() as conn:
            token.spend(conn, spool.md5_hex)
    return spool.md5_hex


def complete_multipart(storage: Storage, user: User, artifact_id: int, upload_id: str,
                       parts: list[tuple[int, str]], spool: HashingSpool) -> str:
    """Join the parts (in ``spool``) into one blob; checks each ETag and the whole MD5."""
    _pending(storage, user, artifact_id)
    with storage.db.read() as conn:
        upload = repo.get_multipart(conn, upload_id)
    if upload is None or upload.artifact_id != artifact_id:
        raise NotFound("multipart upload not found for this artifact")
    numbers = sorted(n for n, _ in parts)
    if numbers != list(range(1, upload.part_count + 1)):
        raise InvalidInput(f"expected parts 1..{upload.part_count}, got {numbers}")
    etags = dict(parts)
    for number in numbers:
        key = part_key(upload_id, number)
        if not storage.blobs.exists(key):
            raise InvalidInput(f"part {number} was never uploaded")
        part_hash = hashlib.md5()
        for chunk in storage.blobs.open(key):
            part_hash.update(chunk)
            spool.write(chunk)
        declared = etags[number].strip('"').lower()
        if part_hash.hexdigest() != declared:
            raise InvalidInput(f"part {number} has MD5 {part_hash.hexdigest()}, not {declared}")
    if spool.md5_hex != upload.md5_hex:
        raise InvalidInput(f"joined parts have MD5 {spool.md5_hex}, not {upload.md5_hex}")
    store_spool(storage, spool)
    for number in numbers:
        storage.blobs.delete(part_key(upload_id, number))
    with storage.db.write() as conn:
        repo.finish_multipart(conn, upload_id)
        grants.add_proof(conn, artifact_id, upload.md5_hex)
    return upload.md5_hex


def commit_artifact(storage: Storage, user: User, artifact_id: int) -> Artifact:
    """Make a pending version visible: files recorded, next version index, aliases moved.

    InvalidInput when the manifest or any file it names was never uploaded; nothing changes
    then, and the client may upload the missing pieces and commit again.
    """
    artifact = _pending(storage, user, artifact_id)
    if artifact.state is ArtifactState.COMMITTED:
        return artifact
    if artifact.manifest_blob_key is None:
        raise InvalidInput("cannot commit: the artifact manifest was never uploaded")
    entries = read_manifest(storage, artifact.manifest_blob_key)
    allowed = readable_digests(storage, user, artifact_id,
                               {e.digest for e in entries if not e.is_reference})
    stored: list[tuple[ManifestEntry, str | None]] = []
    missing = []
    for entry in entries:
        if entry.is_reference:
            stored.append((entry, None))
            continue
        key = cas_key(md5_b64_to_hex(entry.digest))
        # A digest the committer neither uploaded nor may read is as absent as a missing one.
        if entry.digest not in allowed or not storage.blobs.exists(key):
            missing.append(entry.path)
        stored.append((entry, key))
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise InvalidInput(
            f"cannot commit: {len(missing)} file(s) of the manifest were never uploaded: "
            f"{shown}")
    with storage.db.write() as conn:
        current = repo.get_artifact(conn, artifact_id)
        if current is None or current.state is not ArtifactState.PENDING:
            assert current is not None
            return current
        version = repo.next_version(conn, artifact.sequence_id)
        repo.insert_files(conn, artifact_id, stored)
        combined: dict[str, str] = {}
        if artifact.manifest_type in MERGED_TYPES and artifact.digest_algorithm == "MANIFEST_MD5":
            # The client hashed only its part; the version's digest covers all of it.
            combined["digest"] = manifest_digest(entries)
        repo.update_artifact(
            conn, artifact_id, state=ArtifactState.COMMITTED.value, version_index=version,
            size=sum(e.size for e in entries), file_count=len(entries),
            committed_at=time.time(), **combined)
        repo.add_membership(conn, artifact.sequence_id, artifact_id, version)
        for alias in ["latest", *repo.pending_aliases(conn, artifact_id)]:
            repo.set_alias(conn, artifact.sequence_id, artifact_id, alias)
        committed = repo.get_artifact(conn, artifact_id)
    assert committed is not None
    return committed


def use_artifact(storage: Storage, user: User, entity: str, project: str, run_name: str,
                 artifact_id: int, used_as: str | None = None) -> Artifact:
    """Record that a run used an artifact (the input edge of lineage)."""
    artifact = get_artifact(storage, user, artifact_id)
    require(user, Action.WRITE, entity, project)
    with storage.db.write() as conn:
        run = _run(conn, entity, project, run_name)
        lineage.add_usage(conn, run.id, artifact.id, used_as)
    return artifact
