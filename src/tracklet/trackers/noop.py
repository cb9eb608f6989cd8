"""A tracker that only writes what it was asked to do to JSONL files."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracklet.trackers.base import RunHandle, RunRecord, TrackerAdapter, TrackerBinding


def _path_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


class NoopAdapter(TrackerAdapter):
    """Writes one JSON line per call to ``<log_root>/tracker_log/<run_id>/events.jsonl``.

    The lines are exactly::

        {"timestamp", "event": "init_run", "project", "group", "tags", "config", "notes",
         "offline"}
        {"timestamp", "event": "log", "metrics"}            (plus "step" when one is given)
        {"timestamp", "event": "log_artifact", "name", "path", "size_bytes"}
        {"timestamp", "event": "finish", "exit_code"}

    with ``timestamp`` an ISO 8601 UTC time. Metrics and config must be JSON-serialisable.
    :meth:`list_runs` and :meth:`find_run` read these files back; a run's state is "running"
    until its finish line, then "finished" (exit code 0) or "failed".
    """

    name = "noop"

    def __init__(self, log_root: str | Path) -> None:
        self.log_root = Path(log_root)
        self._open: set[str] = set()

    def _events_path(self, run_id: str) -> Path:
        return self.log_root / "tracker_log" / run_id / "events.jsonl"

    def _write(self, run_id: str, event: str, **fields: Any) -> None:
        line = {"timestamp": datetime.now(timezone.utc).isoformat(), "event": event, **fields}
        with self._events_path(run_id).open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def _require_open(self, handle: RunHandle) -> None:
        if handle.id not in self._open:
            raise ValueError(f"run {handle.id!r} is not open in this adapter")

    def init_run(self, *, project: str, group: str | None = None, tags: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None, notes: str | None = None,
                 offline: bool = False) -> RunHandle:
        """Create the run's log directory and write its ``init_run`` line."""
        run_id = uuid.uuid4().hex[:12]
        path = self._events_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=False)
        self._open.add(run_id)
        self._write(run_id, "init_run", project=project, group=group, tags=list(tags),
                    config=dict(config or {}), notes=notes, offline=offline)
        return RunHandle(id=run_id, url=path.resolve().as_uri(), project=project, group=group,
                         extra={"events_path": str(path)})

    def log(self, handle: RunHandle, metrics: Mapping[str, Any],
            step: int | None = None) -> None:
        """Write a ``log`` line; the ``step`` key is present only when a step is given."""
        self._require_open(handle)
        if step is None:
            self._write(handle.id, "log", metrics=dict(metrics))
        else:
            self._write(handle.id, "log", metrics=dict(metrics), step=step)

    def log_artifact(self, handle: RunHandle, name: str, path: str | Path) -> None:
        """Write a ``log_artifact`` line with the file's (or directory's total) size."""
        self._require_open(handle)
        p = Path(path)
        self._write(handle.id, "log_artifact", name=name, path=str(p), size_bytes=_path_size(p))

    def finish(self, handle: RunHandle, *, exit_code: int = 0) -> None:
        """Write the ``finish`` line; the handle cannot be used afterwards."""
        self._require_open(handle)
        self._write(handle.id, "finish", exit_code=exit_code)
        self._open.discard(handle.id)

    def _read(self, run_id: str) -> RunRecord | None:
        path = self._events_path(run_id)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        events = [json.loads(line) for line in lines if line.strip()]
        if not events or events[0].get("event") != "init_run":
            return None
        init = events[0]
        state = "running"
        summary: dict[str, Any] = {}
        for ev in events[1:]:
            if ev["event"] == "log":
                summary.update(ev["metrics"])
            elif ev["event"] == "finish":
                state = "finished" if ev["exit_code"] == 0 else "failed"
        return RunRecord(id=run_id, url=path.resolve().as_uri(), project=init["project"],
                         group=init["group"], state=state, tags=tuple(init["tags"]),
                         config=init["config"], summary=summary)

    def list_runs(self, *, project: str, group_prefix: str | None = None) -> list[RunRecord]:
        """The runs logged under this root for ``project``, in run-id order."""
        base = self.log_root / "tracker_log"
        if not base.is_dir():
            return []
        records = []
        for run_dir in sorted(base.iterdir()):
            record = self._read(run_dir.name)
            if record is None or record.project != project:
                continue
            if group_prefix is not None and (record.group is None
                                             or not record.group.startswith(group_prefix)):
                continue
            records.append(record)
        return records

    def find_run(self, binding: TrackerBinding) -> RunRecord | None:
        """The run logged under this root with the binding's id and project."""
        self._check_binding(binding)
        if "/" in binding.run_id or binding.run_id in ("", ".", ".."):
            return None
        record = self._read(binding.run_id)
        if record is None or record.project != binding.project:
            return None
        return record
