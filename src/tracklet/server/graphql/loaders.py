"""Per-request batch loaders for the objects around artifacts (no N+1).

GraphQL resolves a list depth first: every field of the first artifact before the second
one is looked at, so a loader cannot wait to collect keys. Instead the resolvers that return
artifacts *note* them (:meth:`Loaders.note_artifacts`); the first time any field needs, say,
the aliases of one noted artifact, the aliases of every noted artifact not loaded yet are read
in one query. A page of N artifacts then costs one query per kind of field, whatever N.

Loaders only fetch; they check nothing. Resolvers check read access on every item they hand
out, exactly as they would without batching.

The batched SELECTs belong with the single-row reads in ``storage.metadata`` and reuse
their column lists; they live here until those modules grow batch reads of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection, select

from tracklet.domain.artifacts import (
    Alias,
    Artifact,
    ArtifactFile,
    ArtifactType,
    Collection,
    Membership,
)
from tracklet.domain.records import Project, Run
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo
from tracklet.storage.metadata.runs import run_select, to_run
from tracklet.storage.metadata.tables import (
    artifact_collections,
    artifact_files,
    artifact_memberships,
    artifact_types,
    artifact_usages,
    artifacts,
    entities,
    projects,
    runs,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """Values by key, each key read at most once per request, unread keys read together.

    ``fetch(conn, keys)`` returns the values it found; a key it leaves out gets ``missing()``.
    ``siblings()`` names the keys worth reading along with any requested one (those of the
    artifacts noted so far); :meth:`prime` adds more.
    """

    def __init__(self, storage: Storage, fetch: Callable[[Connection, list[K]], dict[K, V]],
                 missing: Callable[[], V], siblings: Callable[[], Iterable[K]] | None = None
                 ) -> None:
        self._storage = storage
        self._fetch = fetch
        self._missing = missing
        self._siblings = siblings
        self._pending: dict[K, None] = {}
        self._done: dict[K, V] = {}
        #: How many batches were read (for tests and logs).
        self.batches = 0

    def prime(self, keys: Iterable[K]) -> None:
        """Read ``keys`` with the next batch."""
        for key in keys:
            if key not in self._done:
                self._pending[key] = None

    def load(self, key: K) -> V:
        """The value of ``key``, reading it and every pending key in one transaction."""
        if key not in self._done:
            self.load_many([key])
        return self._done[key]

    def load_many(self, keys: Iterable[K]) -> list[V]:
        """The values of ``keys`` in order, unread ones (and pending ones) read together."""
        wanted = list(keys)
        todo = [k for k in wanted if k not in self._done]
        if todo:
            self.prime(todo)
            if self._siblings is not None:
                self.prime(self._siblings())
            batch = [k for k in self._pending if k not in self._done]
            self._pending.clear()
            with self._storage.db.read() as conn:
                found = self._fetch(conn, batch)
            self.batches += 1
            for k in batch:
                self._done[k] = found[k] if k in found else self._missing()
        return [self._done[k] for k in wanted]


def _none() -> None:
    return None


@dataclass
class Loaders:
    """The loaders of one GraphQL request (``GraphQLContext.loaders``)."""

    storage: Storage
    _noted: dict[int, Artifact] = field(default_factory=dict, init=False, repr=False)
    collections: BatchLoader[int, Collection | None] = field(init=False)
    projects: BatchLoader[int, Project | None] = field(init=False)
    types: BatchLoader[tuple[int, str], ArtifactType | None] = field(init=False)
    runs: BatchLoader[int, Run | None] = field(init=False)
    aliases: BatchLoader[int, list[Alias]] = field(init=False)
    used_by: BatchLoader[int, list[int]] = field(init=False)
    memberships: BatchLoader[int, list[_Member]] = field(init=False)
    _files: dict[tuple[str, ...], BatchLoader[int, dict[str, ArtifactFile]]] = field(
        init=False, default_factory=dict)

    def __post_init__(self) -> None:
        noted = self._noted
        self.collections = BatchLoader(
            self.storage, self._fetch_collections, _none,
            lambda: (a.sequence_id for a in noted.values()))
        self.projects = BatchLoader(self.storage, _fetch_projects, _none,
                                    lambda: (a.project_id for a in noted.values()))
        self.types = BatchLoader(self.storage, _fetch_types, _none,
                                 lambda: ((a.project_id, a.type_name) for a in noted.values()))
        self.runs = BatchLoader(self.storage, self._fetch_runs, _none,
                                lambda: (a.created_by_run_id for a in noted.values()
                                         if a.created_by_run_id is not None))
        self.aliases = BatchLoader(self.storage, self._fetch_aliases, list, noted.keys)
        self.used_by = BatchLoader(self.storage, self._fetch_used_by, list, noted.keys)
        self.memberships = BatchLoader(self.storage, self._fetch_memberships, list,
                                       noted.keys)

    def note_artifacts(self, found: Iterable[Artifact]) -> None:
        """Artifacts about to be resolved: their fields are read for all of them at once."""
        for artifact in found:
            self._noted.setdefault(artifact.id, artifact)

    def files(self, names: Iterable[str]) -> BatchLoader[int, dict[str, ArtifactFile]]:
        """Files by path among ``names``, per artifact id."""
        key = tuple(sorted(set(names)))
        loader = self._files.get(key)
        if loader is None:
            def fetch(conn: Connection, ids: list[int]) -> dict[int, dict[str, ArtifactFile]]:
                return _fetch_files(conn, ids, key)

            loader = self._files[key] = BatchLoader(self.storage, fetch, dict,
                                                    self._noted.keys)
        return loader

    # The fetchers below that need other objects take them from the other loaders, so a
    # collection or run shared by many artifacts is read once.

    def _fetch_collections(self, conn: Connection, ids: list[int]
                           ) -> dict[int, Collection | None]:
        found: dict[int, Collection | None] = {c.id: c for c in (
            repo._collection(r) for r in conn.execute(repo._collection_select().where(
                artifact_collections.c.id.in_(ids))))}
        self.projects.prime(c.project_id for c in found.values() if c is not None)
        return found

    def _fetch_runs(self, conn: Connection, ids: list[int]) -> dict[int, Run | None]:
        found: dict[int, Run | None] = {r.id: r for r in (to_run(row) for row in conn.execute(
            run_select().where(runs.c.id.in_(ids))))}
        self.projects.prime(r.project_id for r in found.values() if r is not None)
        return found

    def _fetch_aliases(self, conn: Connection, ids: list[int]) -> dict[int, list[Alias]]:
        found = repo.aliases_of(conn, ids)
        self.collections.prime(a.collection_id for group in found.values() for a in group)
        return found

    def _fetch_used_by(self, conn: Connection, ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for artifact_id, run_id in conn.execute(
                select(artifact_usages.c.artifact_id, artifact_usages.c.run_id)
                .where(artifact_usages.c.artifact_id.in_(ids))
                .order_by(artifact_usages.c.created_at)):
            out.setdefault(int(artifact_id), []).append(int(run_id))
        self.runs.prime(r for group in out.values() for r in group)
        return out

    def _fetch_memberships(self, conn: Connection, ids: list[int]
                           ) -> dict[int, list[_Member]]:
        out: dict[int, list[_Member]] = {}
        for row in conn.execute(
                repo.artifact_select().add_columns(
                    artifact_memberships.c.collection_id.label("m_collection_id"),
                    artifact_memberships.c.version_index.label("m_version"),
                    artifact_memberships.c.created_at.label("m_created_at"))
                .join(artifact_memberships,
                      artifact_memberships.c.artifact_id == artifacts.c.id)
                .where(artifacts.c.id.in_(ids))
                .order_by(artifact_memberships.c.created_at)):
            out.setdefault(int(row.id), []).append(_Member(
                repo.to_artifact(row), int(row.m_collection_id), int(row.m_version),
                float(row.m_created_at)))
        self.collections.prime(m.collection_id for group in out.values() for m in group)
        return out

    def memberships_of(self, artifact_id: int) -> list[Membership]:
        """Every collection an artifact belongs to: its sequence first, then portfolios."""
        members = self.memberships.load(artifact_id)
        # Built after the memberships' transaction closed: these loaders open their own.
        collections = self.collections.load_many(m.collection_id for m in members)
        aliases = self.aliases.load(artifact_id)
        return [Membership(collection=c, artifact=m.artifact, version_index=m.version_index,
                           created_at=m.created_at,
                           aliases=tuple(a for a in aliases if a.collection_id == c.id))
                for m, c in zip(members, collections, strict=True) if c is not None]


@dataclass(frozen=True)
class _Member:
    artifact: Artifact
    collection_id: int
    version_index: int
    created_at: float


def _fetch_projects(conn: Connection, ids: list[int]) -> dict[int, Project | None]:
    rows = conn.execute(select(*accounts._PROJECT_COLS)
                        .join(entities, entities.c.id == projects.c.entity_id)
                        .where(projects.c.id.in_(ids)))
    return {int(r.id): Project(**r._mapping) for r in rows}


def _fetch_types(conn: Connection, keys: list[tuple[int, str]]
                 ) -> dict[tuple[int, str], ArtifactType | None]:
    rows = conn.execute(select(artifact_types).where(
        artifact_types.c.project_id.in_(sorted({p for p, _ in keys})),
        artifact_types.c.name.in_(sorted({n for _, n in keys}))))
    wanted = set(keys)
    found: dict[tuple[int, str], ArtifactType | None] = {}
    for row in rows:
        t = ArtifactType(**row._mapping)
        if (t.project_id, t.name) in wanted:
            found[(t.project_id, t.name)] = t
    return found


def _fetch_files(conn: Connection, ids: list[int], names: tuple[str, ...]
                 ) -> dict[int, dict[str, ArtifactFile]]:
    out: dict[int, dict[str, ArtifactFile]] = {}
    if not names:
        return out
    for row in conn.execute(select(artifact_files).where(
            artifact_files.c.artifact_id.in_(ids), artifact_files.c.path.in_(names))):
        f = ArtifactFile(**row._mapping)
        out.setdefault(f.artifact_id, {})[f.path] = f
    return out
