"""The Weights & Biases SDK (or a tracklet server, through WANDB_BASE_URL) as a tracker."""

from __future__ import annotations

import importlib
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tracklet.trackers.base import (
    RunHandle,
    RunRecord,
    TrackerAdapter,
    TrackerBinding,
    TrackerInitError,
)

_ID_ALPHABET = string.ascii_lowercase + string.digits


class WandbAdapter(TrackerAdapter):
    """Runs logged with the ``wandb`` SDK, read back with ``wandb.Api()``.

    The server and key come from the SDK's own settings (``WANDB_BASE_URL``,
    ``WANDB_API_KEY`` or ``wandb login``), so pointing it at a tracklet server needs no
    change here. Every run gets its own directory ``<base_dir>/<run_id>`` (passed as
    ``dir=``), so the SDK's files never land in the working directory; offline runs end up
    in ``<base_dir>/<run_id>/wandb/offline-run-*``, where :func:`find_offline_runs` finds
    them. ``entity`` None means the API key's default entity.

    ``base_dir`` has no default, so the caller always decides where the SDK's files go.
    ``wandb`` is imported when the adapter is built: :class:`TrackerInitError` if it is not
    installed.
    """

    name = "wandb"

    def __init__(self, entity: str | None = None, *, base_dir: str | Path) -> None:
        try:
            self._wandb: ModuleType = importlib.import_module("wandb")
        except ImportError as exc:
            raise TrackerInitError(
                "the wandb backend needs the wandb package: pip install wandb") from exc
        self.entity = entity
        self.base_dir = Path(base_dir)
        self._runs: dict[str, Any] = {}

    def _run(self, handle: RunHandle) -> Any:
        try:
            return self._runs[handle.id]
        except KeyError:
            raise ValueError(f"run {handle.id!r} is not open in this adapter") from None

    def init_run(self, *, project: str, group: str | None = None, tags: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None, notes: str | None = None,
                 offline: bool = False) -> RunHandle:
        """``wandb.init`` a new run (``mode="offline"`` when ``offline``) in its own dir."""
        # Chosen here rather than by the SDK so the directory can be named after the run.
        run_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        run_dir = self.base_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        run = self._wandb.init(
            entity=self.entity, project=project, group=group, tags=list(tags) or None,
            config=dict(config or {}), notes=notes, id=run_id, dir=str(run_dir),
            mode="offline" if offline else "online",
            # Several runs may be open at once in one adapter.
            reinit="create_new",
        )
        self._runs[run_id] = run
        return RunHandle(id=run_id, url=None if offline else run.url, project=project,
                         group=group, extra={"dir": str(run_dir), "entity": run.entity,
                                             "offline": offline})

    def log(self, handle: RunHandle, metrics: Mapping[str, Any],
            step: int | None = None) -> None:
        """``run.log(metrics, step=step)``."""
        self._run(handle).log(dict(metrics), step=step)

    def log_artifact(self, handle: RunHandle, name: str, path: str | Path) -> None:
        """Log a ``wandb.Artifact`` of type "file" (or "directory") holding ``path``."""
        p = Path(path)
        if p.is_dir():
            artifact = self._wandb.Artifact(name, type="directory")
            artifact.add_dir(str(p))
        else:
            artifact = self._wandb.Artifact(name, type="file")
            artifact.add_file(str(p))
        self._run(handle).log_artifact(artifact)

    def finish(self, handle: RunHandle, *, exit_code: int = 0) -> None:
        """``run.finish(exit_code=...)``: waits until the SDK has sent (or stored) it all."""
        self._run(handle).finish(exit_code=exit_code)
        del self._runs[handle.id]

    def _api(self) -> Any:
        return self._wandb.Api(timeout=60)

    def _record(self, run: Any) -> RunRecord:
        summary = {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}
        return RunRecord(id=run.id, url=run.url, project=run.project, group=run.group,
                         state=run.state, tags=tuple(run.tags or ()),
                         config=dict(run.config), summary=summary)

    def list_runs(self, *, project: str, group_prefix: str | None = None) -> list[RunRecord]:
        """``wandb.Api().runs`` of ``entity/project``, filtered on ``{"group": {"$regex":
        "^<prefix>"}}`` by the server; empty when the project does not exist."""
        api = self._api()
        entity = self.entity or api.default_entity
        filters = ({} if group_prefix is None
                   else {"group": {"$regex": "^" + re.escape(group_prefix)}})
        try:
            runs = api.runs(f"{entity}/{project}", filters=filters)
            return [self._record(r) for r in runs]
        except (self._wandb.errors.CommError, ValueError):
            # The SDK says "Could not find project" for a project nobody logged to yet.
            if not _project_exists(api, entity, project):
                return []
            raise

    def find_run(self, binding: TrackerBinding) -> RunRecord | None:
        """``wandb.Api().run(entity/project/run_id)``, None when the server has no such run."""
        self._check_binding(binding)
        api = self._api()
        entity = self.entity or api.default_entity
        try:
            run = api.run(f"{entity}/{binding.project}/{binding.run_id}")
        except (self._wandb.errors.CommError, ValueError):
            return None
        return self._record(run)


def _project_exists(api: Any, entity: str, project: str) -> bool:
    return any(p.name == project for p in api.projects(entity))
