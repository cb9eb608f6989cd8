"""Lineage: which runs used (inputs) and logged (outputs) which artifact versions."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, or_, select

from tracklet.domain.artifacts import Artifact
from tracklet.storage.metadata.artifacts import artifact_select, live_clause, to_artifact
from tracklet.storage.metadata.tables import artifact_outputs, artifact_usages, artifacts


def add_usage(conn: Connection, run_id: int, artifact_id: int, used_as: str | None) -> None:
    """Record that a run used an artifact (idempotent)."""
    exists = conn.execute(select(artifact_usages.c.run_id).where(
        artifact_usages.c.run_id == run_id, artifact_usages.c.artifact_id == artifact_id)
    ).first()
    if exists is None:
        conn.execute(artifact_usages.insert().values(run_id=run_id, artifact_id=artifact_id,
                                                     used_as=used_as, created_at=time.time()))


def users_of(conn: Connection, artifact_id: int) -> list[int]:
    """Ids of the runs that used an artifact, in order of first use."""
    return [int(r) for r in conn.execute(select(artifact_usages.c.run_id).where(
        artifact_usages.c.artifact_id == artifact_id).order_by(artifact_usages.c.created_at)
    ).scalars()]


def run_inputs(conn: Connection, run_id: int, offset: int, limit: int) -> list[Artifact]:
    """Live artifacts a run used, in order of use."""
    q = (artifact_select().join(artifact_usages, artifact_usages.c.artifact_id == artifacts.c.id)
         .where(artifact_usages.c.run_id == run_id, live_clause())
         .order_by(artifact_usages.c.created_at, artifacts.c.id).offset(offset).limit(limit))
    return [to_artifact(r) for r in conn.execute(q)]


def count_run_inputs(conn: Connection, run_id: int) -> int:
    """How many live artifacts a run used."""
    return int(conn.execute(
        select(func.count()).select_from(artifact_usages)
        .join(artifacts, artifacts.c.id == artifact_usages.c.artifact_id)
        .where(artifact_usages.c.run_id == run_id, live_clause())).scalar_one())


def add_output(conn: Connection, run_id: int, artifact_id: int) -> None:
    """Record that a run logged an artifact version (idempotent)."""
    exists = conn.execute(select(artifact_outputs.c.run_id).where(
        artifact_outputs.c.run_id == run_id, artifact_outputs.c.artifact_id == artifact_id)
    ).first()
    if exists is None:
        conn.execute(artifact_outputs.insert().values(run_id=run_id, artifact_id=artifact_id,
                                                      created_at=time.time()))


def _logged_by(run_id: int) -> Any:
    """The run created the version, or logged it again and was deduplicated onto it."""
    return or_(artifacts.c.created_by_run_id == run_id, artifacts.c.id.in_(
        select(artifact_outputs.c.artifact_id).where(artifact_outputs.c.run_id == run_id)))


def run_outputs(conn: Connection, run_id: int, offset: int, limit: int) -> list[Artifact]:
    """Live artifacts a run logged, oldest first."""
    q = (artifact_select().where(_logged_by(run_id), live_clause())
         .order_by(artifacts.c.id).offset(offset).limit(limit))
    return [to_artifact(r) for r in conn.execute(q)]


def count_run_outputs(conn: Connection, run_id: int) -> int:
    """How many live artifacts a run logged."""
    return int(conn.execute(select(func.count()).select_from(artifacts).where(
        _logged_by(run_id), live_clause())).scalar_one())
