"""The adapter interface: one way for orchestration code to bind a job to a tracker run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TrackerInitError(RuntimeError):
    """A tracker backend cannot be used, e.g. because its package is not installed."""


@dataclass(frozen=True)
class RunHandle:
    """A run opened by :meth:`TrackerAdapter.init_run`, passed back to the adapter's calls.

    ``url`` is None when the backend has no address for the run (an offline run);
    ``extra`` holds backend details (JSON-compatible) such as the run's local directory.
    """

    id: str
    url: str | None
    project: str
    group: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """A run as a backend reports it when listed or looked up.

    ``state`` is the backend's word for it ("running", "finished", "failed", "crashed"...).
    """

    id: str
    url: str | None
    project: str
    group: str | None
    state: str | None
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerBinding:
    """What a caller stores beside its own job record to find the run again later.

    ``backend`` is the adapter's :attr:`TrackerAdapter.name`.
    """

    backend: str
    run_id: str
    url: str | None
    project: str
    group: str | None

    @classmethod
    def from_handle(cls, backend: str, handle: RunHandle) -> TrackerBinding:
        """The binding of a run just opened by the adapter called ``backend``."""
        return cls(backend=backend, run_id=handle.id, url=handle.url, project=handle.project,
                   group=handle.group)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict with exactly the keys backend, run_id, url, project, group."""
        return {"backend": self.backend, "run_id": self.run_id, "url": self.url,
                "project": self.project, "group": self.group}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackerBinding:
        """The binding :meth:`to_dict` produced; KeyError when a key is missing."""
        return cls(backend=str(data["backend"]), run_id=str(data["run_id"]),
                   url=None if data["url"] is None else str(data["url"]),
                   project=str(data["project"]),
                   group=None if data["group"] is None else str(data["group"]))


class TrackerAdapter(ABC):
    """One experiment-tracking backend behind a common interface.

    An adapter may hold several runs open at once; every call names its run by the
    :class:`RunHandle` that :meth:`init_run` returned. Calls on a finished handle raise
    ``ValueError``.
    """

    #: The backend's name, stored in :attr:`TrackerBinding.backend`.
    name: str

    @abstractmethod
    def init_run(self, *, project: str, group: str | None = None, tags: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None, notes: str | None = None,
                 offline: bool = False) -> RunHandle:
        """Start a new run in ``project`` and return its handle.

        ``offline=True`` records locally only, for a later :func:`sync_offline_runs`.
        """

    @abstractmethod
    def log(self, handle: RunHandle, metrics: Mapping[str, Any],
            step: int | None = None) -> None:
        """Record one row of ``metrics``; ``step`` defaults to the backend's next step."""

    @abstractmethod
    def log_artifact(self, handle: RunHandle, name: str, path: str | Path) -> None:
        """Attach the file or directory at ``path`` to the run as artifact ``name``."""

    @abstractmethod
    def finish(self, handle: RunHandle, *, exit_code: int = 0) -> None:
        """End the run: finished when ``exit_code`` is 0, failed otherwise."""

    @abstractmethod
    def list_runs(self, *, project: str, group_prefix: str | None = None) -> list[RunRecord]:
        """The runs of ``project`` (only those whose group starts with ``group_prefix`` when
        given; a run without a group never matches a prefix)."""

    @abstractmethod
    def find_run(self, binding: TrackerBinding) -> RunRecord | None:
        """The run ``binding`` names, or None when the backend has no such run.

        ``ValueError`` when the binding belongs to another backend.
        """

    def binding(self, handle: RunHandle) -> TrackerBinding:
        """The :class:`TrackerBinding` of a run this adapter opened."""
        return TrackerBinding.from_handle(self.name, handle)

    def _check_binding(self, binding: TrackerBinding) -> None:
        if binding.backend != self.name:
            raise ValueError(f"binding is for backend {binding.backend!r}, not {self.name!r}")
