"""Sending a run's journal to the server, resumably: the offsets come from the journal, so
a post retried, a process restarted or a sync run twice never writes a history row twice.

What has been acknowledged is kept beside the journal in ``upload.json`` (replaced
atomically after every acknowledged post): the run's address on the server, the history
offset its first journal row maps to (``base``), how many rows the server has confirmed
(``acked``) and whether the run's completion was sent.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tracklet.client import artifacts
from tracklet.client.wire import Connection, RunAddress, WireError

STATE_NAME = "upload.json"
#: History rows and bytes per file_stream post (the SDK caps a request near 10 MiB).
MAX_LINES = 5000
MAX_BYTES = 4 * 1024 * 1024


def config_json(config: dict[str, Any]) -> str:
    """The config as UpsertBucket takes it: ``{"key": {"value": v}}`` plus the ``_wandb``
    entry the SDK writes, whose ``t`` lets the wandb SDK resume a tracklet run too."""
    wrapped: dict[str, Any] = {k: {"value": v} for k, v in config.items()}
    wrapped["_wandb"] = {"value": {"t": {}, "client": "tracklet"}}
    return json.dumps(wrapped)


class Sender:
    """Posts one run's rows, summary and completion, remembering what the server has."""

    def __init__(self, connection: Connection, run_dir: Path, run: dict[str, Any]) -> None:
        self.connection = connection
        self.run_dir = run_dir
        self.run = run
        self._state_path = run_dir / STATE_NAME
        state = _read_state(self._state_path)
        address = state.get("address")
        self.address: RunAddress | None = RunAddress(**address) if address else None
        self.base: int | None = state.get("base")
        self.acked: int = int(state.get("acked", 0))
        self.complete: bool = bool(state.get("complete", False))
        self._sent_config: str | None = state.get("config")
        self.uploaded: set[str] = set(state.get("uploaded") or ())
        self.console_base: int | None = state.get("console_base")
        self.console_acked: int = int(state.get("console_acked", 0))
        self.alerts_sent: int = int(state.get("alerts_sent", 0))
        self.artifacts_done: int = int(state.get("artifacts_done", 0))
        #: An offline run resumed at sync: what its steps are shifted by (the server's last
        #: step + 1) and the summary it had, under the run's own keys.
        self.step_base: int = int(state.get("step_base") or 0)
        self.resumed_summary: dict[str, Any] = dict(state.get("resumed_summary") or {})

    def _save(self) -> None:
        state = {"address": asdict(self.address) if self.address else None, "base": self.base,
                 "acked": self.acked, "complete": self.complete, "config": self._sent_config,
                 "uploaded": sorted(self.uploaded), "console_base": self.console_base,
                 "console_acked": self.console_acked, "alerts_sent": self.alerts_sent,
                 "artifacts_done": self.artifacts_done,
                 "step_base": self.step_base, "resumed_summary": self.resumed_summary}
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self._state_path)

    def upsert(self, config: dict[str, Any]) -> RunAddress:
        """Create the run, or send its config when it changed since the last upsert."""
        text = config_json(config)
        if self.address is not None and text == self._sent_config:
            return self.address
        run = self.run
        variables: dict[str, Any] = {"config": text}
        if self.address is None and run.get("mode") == "offline":
            self._resume_offline()
        if self.address is None:
            variables.update({
                "name": run["id"], "project": run["project"], "entity": run.get("entity"),
                "groupName": run.get("group"), "displayName": run.get("name"),
                "notes": run.get("notes"), "jobType": run.get("job_type"),
                "tags": list(run.get("tags") or []) or None})
        else:
            variables.update({"id": self.address.storage_id, "name": self.address.name,
                              "project": self.address.project, "entity": self.address.entity})
        address = self.connection.upsert_run(variables)
        if self.base is None:
            # A fresh run starts at line 0 even if the id was used before; a resumed one
            # continues after the server's rows (known at init online, at sync offline).
            base = run.get("history_base")
            self.base = int(base) if base is not None else (
                address.history_line_count if run.get("resume") else 0)
        if self.console_base is None:
            base = run.get("console_base")
            if base is None and run.get("resume"):
                status = self.connection.run_status(address.entity, address.project,
                                                    address.name)
                base = (status or {}).get("logLineCount")
            self.console_base = int(base or 0)
        self.address = address
        self._sent_config = text
        self._save()
        return address

    def _resume_offline(self) -> None:
        """Apply an offline run's ``resume=`` now that the server can be asked: refuse
        ``"must"`` of a missing run and ``"never"`` of an existing one, and continue a
        resumed run's steps and summary after the server's."""
        run = self.run
        policy = run.get("resume_policy")
        if not run.get("resume") and policy != "never":
            return
        status = self.connection.run_status(run.get("entity"), run["project"], run["id"])
        if status is None and policy == "must":
            raise WireError(f"resume='must' but run {run['id']} does not exist on the server",
                            retryable=False)
        if status is not None and policy == "never":
            raise WireError(f"resume='never' but run {run['id']} exists on the server",
                            retryable=False)
        if status is None or not run.get("resume"):
            return
        summary = status.get("summaryMetrics")
        if isinstance(summary, str):
            try:
                summary = json.loads(summary)
            except ValueError:
                summary = {}
        summary = summary if isinstance(summary, dict) else {}
        last = summary.get("_step")
        self.step_base = last + 1 if isinstance(last, int) and last >= 0 else 0
        self.resumed_summary = {k: v for k, v in summary.items() if k != "_wandb"}

    def shifted(self, lines: list[str]) -> list[str]:
        """History lines with ``_step`` moved past the server's steps (a resumed offline
        run); the lines themselves when there is nothing to shift."""
        if not self.step_base:
            return lines
        out = []
        for line in lines:
            row = json.loads(line)
            if isinstance(row.get("_step"), int):
                row["_step"] += self.step_base
            out.append(json.dumps(row, separators=(",", ":"), allow_nan=True))
        return out

    def upload_files(self, names: list[str]) -> None:
        """Upload the run files ``names`` (from ``<run dir>/files``) not uploaded yet, then
        tell the server they are complete (file_stream ``uploaded``)."""
        assert self.address is not None
        todo = [n for n in dict.fromkeys(names) if n not in self.uploaded]
        if not todo:
            return
        urls, headers = self.connection.create_run_files(self.address, todo)
        for name, url in zip(todo, urls, strict=True):
            if url is not None:
                self.connection.put(url, (self.run_dir / "files" / name).read_bytes(), headers)
        self.connection.file_stream(self.address, {"uploaded": todo})
        self.uploaded.update(todo)
        self._save()

    def send_alerts(self, alerts: list[dict[str, Any]], total: int) -> None:
        """Send the alerts from index ``alerts_sent`` of the ``total`` journaled ones, of
        which ``alerts`` holds the last ``len(alerts)``; each is counted once confirmed."""
        assert self.address is not None
        start = self.alerts_sent - (total - len(alerts))
        for alert in alerts[start:]:
            self.connection.notify_alert(self.address, alert)
            self.alerts_sent += 1
            self._save()

    def send_artifacts(self, ops: list[dict[str, Any]], total: int) -> None:
        """Carry out the artifact operations from index ``artifacts_done`` of the ``total``
        journaled ones (``ops`` holds the last ``len(ops)``): upload a logged artifact,
        record a used one; each is counted once the server confirmed it."""
        assert self.address is not None
        start = self.artifacts_done - (total - len(ops))
        for op in ops[start:]:
            if op["op"] == "log":
                artifacts.upload(self.connection, self.address, op, self.run_dir)
            else:
                artifact_id = op.get("id")
                if artifact_id is None:
                    entity, project, name = artifacts.split_name(
                        op["name"], self.address.entity, self.address.project)
                    try:
                        artifact_id = artifacts.find(self.connection, entity, project,
                                                     name).id
                    except WireError as exc:
                        if exc.retryable:
                            raise
                        # An offline use of an artifact the server does not have: the run's
                        # own data must not wait on it forever.
                        print(f"tracklet: run {self.run['id']} used {op['name']}, which the "
                              f"server does not have; the use is not recorded ({exc})",
                              file=sys.stderr)
                if artifact_id is not None:
                    artifacts.use(self.connection, self.address, artifact_id)
            self.artifacts_done += 1
            self._save()

    def pending(self, total: int) -> int:
        """Rows of ``total`` journaled ones the server has not confirmed."""
        return total - self.acked

    def post(self, history: list[str], total: int, summary: str | None,
             exit_code: int | None, console: list[str] | None = None,
             console_total: int = 0) -> bool:
        """Send the next batch: rows ``acked..`` of ``history`` (the journal's rows from
        index ``first`` = ``total - len(history)`` on), likewise console lines, the summary
        line, and the completion once every row and line is in. True when nothing is left
        to send. Raises WireError."""
        assert self.address is not None and self.base is not None
        batch = _batch(history, total, self.acked)
        lines = _batch(console or [], console_total, self.console_acked)
        files: dict[str, Any] = {}
        if batch:
            files["wandb-history.jsonl"] = {"offset": self.base + self.acked, "content": batch}
        if lines:
            files["output.log"] = {"offset": (self.console_base or 0) + self.console_acked,
                                   "content": lines}
        if summary is not None:
            files["wandb-summary.json"] = {"offset": 0, "content": [summary]}
        body: dict[str, Any] = {"files": files} if files else {}
        finishing = (exit_code is not None and self.acked + len(batch) == total
                     and self.console_acked + len(lines) == console_total)
        if finishing:
            body["complete"] = True
            body["exitcode"] = exit_code
        if not body:
            return True
        self.connection.file_stream(self.address, body)
        self.acked += len(batch)
        self.console_acked += len(lines)
        if finishing:
            self.complete = True
        self._save()
        return (self.acked == total and self.console_acked == console_total
                and (exit_code is None or self.complete))


def _batch(lines: list[str], total: int, acked: int) -> list[str]:
    """The next lines to send: from index ``acked`` of the ``total`` journaled ones, of
    which ``lines`` holds the last ``len(lines)``; at most MAX_LINES and MAX_BYTES."""
    start = acked - (total - len(lines))
    batch: list[str] = []
    size = 0
    for line in lines[start:start + MAX_LINES]:
        if batch and size + len(line) > MAX_BYTES:
            break
        batch.append(line)
        size += len(line)
    return batch


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}
