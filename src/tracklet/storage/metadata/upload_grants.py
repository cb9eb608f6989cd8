"""What an upload proves and what a digest is worth: single-use upload tokens, the digests
uploaded for a pending artifact, and which entities hold a file with a given digest.

Blobs are content-addressed, so knowing a file's MD5 must not be enough to reach it: a
manifest entry may name a digest only when its bytes were uploaded for that artifact (the
upload proves possession) or when the caller can read a file that already holds them
(``digest_holders`` lists the entities and projects to ask the access policy about).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, select

from tracklet.storage.metadata.artifacts import live_clause
from tracklet.storage.metadata.tables import (
    artifact_collections,
    artifact_files,
    artifact_upload_proofs,
    artifacts,
    entities,
    projects,
    run_files,
    runs,
    used_upload_tokens,
)
from tracklet.storage.metadata.upsert import insert_missing

_CHUNK = 500


def token_use(conn: Connection, nonce: str) -> str | None:
    """The MD5 (hex) an upload token already stored, or None when it is unused."""
    value = conn.execute(select(used_upload_tokens.c.digest).where(
        used_upload_tokens.c.nonce == nonce)).scalar_one_or_none()
    return None if value is None else str(value)


def use_token(conn: Connection, nonce: str, md5_hex: str, expires_at: float) -> str | None:
    """Mark an upload token used for bytes ``md5_hex``; None on its first use, else the MD5
    its earlier use stored. Tokens past their expiry are forgotten (they verify no more)."""
    conn.execute(used_upload_tokens.delete().where(
        used_upload_tokens.c.expires_at < time.time() - 60))
    if insert_missing(conn, used_upload_tokens,
                      {"nonce": nonce, "digest": md5_hex, "expires_at": expires_at},
                      keys=("nonce",)):
        return None
    return token_use(conn, nonce)


def add_proof(conn: Connection, artifact_id: int, md5_hex: str) -> None:
    """Record that the bytes of ``md5_hex`` were uploaded for artifact ``artifact_id``."""
    insert_missing(conn, artifact_upload_proofs,
                   {"artifact_id": artifact_id, "md5_hex": md5_hex},
                   keys=("artifact_id", "md5_hex"))


def proven(conn: Connection, artifact_id: int, md5_hexes: Iterable[str]) -> set[str]:
    """The digests (hex) among ``md5_hexes`` uploaded for artifact ``artifact_id``."""
    wanted = sorted(set(md5_hexes))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(str(v) for v in conn.execute(
            select(artifact_upload_proofs.c.md5_hex).where(
                artifact_upload_proofs.c.artifact_id == artifact_id,
                artifact_upload_proofs.c.md5_hex.in_(wanted[start:start + _CHUNK]))).scalars())
    return found


def digest_holders(conn: Connection, digests_b64: Iterable[str]
                   ) -> dict[str, set[tuple[str, str]]]:
    """Per base64 MD5, the (entity, project) pairs with a live artifact file or a run file
    holding it."""
    wanted = sorted(set(digests_b64))
    holders: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        in_artifacts = (
            select(artifact_files.c.digest, entities.c.name, projects.c.name)
            .join(artifacts, artifacts.c.id == artifact_files.c.artifact_id)
            .join(artifact_collections, artifact_collections.c.id == artifacts.c.sequence_id)
            .join(projects, projects.c.id == artifact_collections.c.project_id)
            .join(entities, entities.c.id == projects.c.entity_id)
            .where(artifact_files.c.digest.in_(chunk), artifact_files.c.blob_key.is_not(None),
                   live_clause())
            .distinct())
        in_runs = (
            select(run_files.c.md5, entities.c.name, projects.c.name)
            .join(runs, runs.c.id == run_files.c.run_id)
            .join(projects, projects.c.id == runs.c.project_id)
            .join(entities, entities.c.id == projects.c.entity_id)
            .where(run_files.c.md5.in_(chunk), run_files.c.blob_key.is_not(None))
            .distinct())
        for query in (in_artifacts, in_runs):
            for digest, entity, project in conn.execute(query):
                holders.setdefault(str(digest), set()).add((str(entity), str(project)))
    return holders
