"""The native light client (``tracklet.client``) as a tracker."""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracklet.client import run as client_run
from tracklet.client.credentials import resolve
from tracklet.client.wire import Connection
from tracklet.trackers.base import RunHandle, RunRecord, TrackerAdapter, TrackerBinding

_ID_ALPHABET = string.ascii_lowercase + string.digits


class TrackletAdapter(TrackerAdapter):
    """Runs logged with ``tracklet.init`` to a tracklet server, read back over its GraphQL API.

    The server and key are ``base_url`` / ``api_key`` when given, else the client's own
    (``TRACKLET_*`` or ``WANDB_*`` variables, or the stored ``tracklet login``). Every run
    gets its own directory ``<base_dir>/<run_id>``; offline runs end up in
    ``<base_dir>/<run_id>/tracklet/offline-run-*``, where :func:`find_offline_runs` finds
    them. ``log_artifact`` logs a versioned artifact (type "file" or "directory", as
    :class:`WandbAdapter` does), uploaded with the run or by the offline sync.
    """

    name = "tracklet"

    def __init__(self, entity: str | None = None, *, base_dir: str | Path,
                 base_url: str | None = None, api_key: str | None = None) -> None:
        self.entity = entity
        self.base_dir = Path(base_dir)
        self.base_url = base_url
        self.api_key = api_key
        self._runs: dict[str, client_run.Run] = {}

    def _run(self, handle: RunHandle) -> client_run.Run:
        try:
            return self._runs[handle.id]
        except KeyError:
            raise ValueError(f"run {handle.id!r} is not open in this adapter") from None

    def _connection(self) -> Connection:
        creds = resolve(self.base_url, self.api_key)
        return Connection(creds.base_url, creds.api_key)

    def init_run(self, *, project: str, group: str | None = None, tags: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None, notes: str | None = None,
                 offline: bool = False) -> RunHandle:
        """``tracklet.init`` a new run (``mode="offline"`` when ``offline``) in its own dir."""
        run_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        run_dir = self.base_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        run = client_run.init(project, entity=self.entity, config=dict(config or {}),
                              tags=list(tags), group=group, notes=notes, id=run_id,
                              mode="offline" if offline else "online", dir=run_dir,
                              base_url=self.base_url, api_key=self.api_key)
        self._runs[run_id] = run
        sender = run._uploader.sender if run._uploader is not None else None
        entity = sender.address.entity if sender and sender.address else self.entity
        return RunHandle(id=run_id, url=run.url, project=project, group=group,
                         extra={"dir": str(run.dir), "entity": entity, "offline": offline})

    def log(self, handle: RunHandle, metrics: Mapping[str, Any],
            step: int | None = None) -> None:
        """``run.log(metrics, step=step)``."""
        self._run(handle).log(dict(metrics), step=step)

    def log_artifact(self, handle: RunHandle, name: str, path: str | Path) -> None:
        """Log the file or directory at ``path`` as the next version of artifact ``name``
        (type "directory" for a directory, else "file")."""
        p = Path(path)
        self._run(handle).log_artifact(p, name=name, type="directory" if p.is_dir() else "file")

    def finish(self, handle: RunHandle, *, exit_code: int = 0) -> None:
        """``run.finish(exit_code=...)``: waits until the server has it (or the journal
        keeps it for ``tracklet sync``)."""
        self._run(handle).finish(exit_code=exit_code)
        del self._runs[handle.id]

    def _record(self, connection: Connection, entity: str, project: str,
                node: Mapping[str, Any]) -> RunRecord:
        config = _json(node.get("config"))
        summary = _json(node.get("summaryMetrics"))
        return RunRecord(
            id=node["name"], url=f"{connection.base_url}/{entity}/{project}/runs/{node['name']}",
            project=project, group=node.get("group"), state=node.get("state"),
            tags=tuple(node.get("tags") or ()),
            config={k: v.get("value") if isinstance(v, dict) else v
                    for k, v in config.items() if not k.startswith("_")},
            summary={k: v for k, v in summary.items() if not k.startswith("_")})

    def _entity(self, connection: Connection) -> str:
        if self.entity:
            return self.entity
        viewer = connection.viewer() or {}
        return str(viewer.get("entity") or "")

    def list_runs(self, *, project: str, group_prefix: str | None = None) -> list[RunRecord]:
        """The runs of ``entity/project``, filtered on ``{"group": {"$regex": "^<prefix>"}}``
        by the server; empty when the project does not exist."""
        connection = self._connection()
        entity = self._entity(connection)
        filters = ({} if group_prefix is None
                   else {"group": {"$regex": "^" + re.escape(group_prefix)}})
        return [self._record(connection, entity, project, node)
                for node in connection.list_runs(entity, project, filters)]

    def find_run(self, binding: TrackerBinding) -> RunRecord | None:
        """The run ``entity/project/run_id`` on the server, None when it has no such run."""
        self._check_binding(binding)
        connection = self._connection()
        entity = self._entity(connection)
        node = connection.get_run(entity, binding.project, binding.run_id)
        return None if node is None else self._record(connection, entity, binding.project,
                                                      node)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}
