"""The file_stream protocol: parse a request body, then apply it idempotently by offset."""

from __future__ import annotations

import time
from typing import Any

from tracklet.domain.records import FileStreamUpdate, Run, StreamChunk
from tracklet.domain.runs import RunState
from tracklet.errors import InvalidInput
from tracklet.storage import Storage
from tracklet.storage.history import live
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import run_files

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
OUTPUT = "output.log"


def _chunk(name: str, value: Any) -> StreamChunk:
    if not isinstance(value, dict):
        raise InvalidInput(f"files.{name} must be an object with 'offset' and 'content'")
    offset = value.get("offset", 0)
    content = value.get("content", [])
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"files.{name}.offset must be a non-negative integer")
    if not isinstance(content, list) or not all(isinstance(c, str) for c in content):
        raise InvalidInput(f"files.{name}.content must be a list of strings")
    return StreamChunk(offset=offset, lines=tuple(content))


def parse_file_stream(payload: Any) -> FileStreamUpdate:
    """Validate the shape of a file_stream body. Unknown file names and keys are ignored."""
    if not isinstance(payload, dict):
        raise InvalidInput("file_stream body must be a JSON object")
    files = payload.get("files") or {}
    if not isinstance(files, dict):
        raise InvalidInput("'files' must be an object")
    chunks = {name: _chunk(name, files[name]) for name in (HISTORY, EVENTS, SUMMARY, OUTPUT)
              if name in files}
    uploaded = payload.get("uploaded") or []
    if not isinstance(uploaded, list) or not all(isinstance(u, str) for u in uploaded):
        raise InvalidInput("'uploaded' must be a list of file names")
    exit_code = payload.get("exitcode")
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        raise InvalidInput("'exitcode' must be an integer")
    complete = payload.get("complete", False)
    preempting = payload.get("preempting", False)
    if not isinstance(complete, bool) or not isinstance(preempting, bool):
        raise InvalidInput("'complete' and 'preempting' must be booleans")
    return FileStreamUpdate(
        history=chunks.get(HISTORY),
        events=chunks.get(EVENTS),
        summary=chunks.get(SUMMARY),
        output=chunks.get(OUTPUT),
        uploaded=tuple(uploaded),
        preempting=preempting,
        complete=complete,
        exit_code=exit_code,
    )


def apply_file_stream(storage: Storage, run: Run, update: FileStreamUpdate) -> None:
    """Store everything in ``update`` in one transaction; repeating it changes nothing."""
    with storage.db.write() as conn:
        current = run_repo.get_run_by_id(conn, run.id)
        if current is None:
            return
        now = time.time()
        values: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}
        if update.history and update.history.lines:
            end, last = live.write_history(conn, run.id, update.history)
            values["history_line_count"] = max(current.history_line_count, end)
            if last is not None and (current.last_step is None or last > current.last_step):
                values["last_step"] = last
        if update.events and update.events.lines:
            end = live.write_events(conn, run.id, update.events)
            values["events_line_count"] = max(current.events_line_count, end)
            values["system_metrics"] = update.events.lines[-1]
        if update.output and update.output.lines:
            end = live.write_console(conn, run.id, update.output)
            values["log_line_count"] = max(current.log_line_count, end)
        if update.summary and update.summary.lines:
            values["summary"] = update.summary.lines[-1]
        if update.uploaded:
            conn.execute(
                run_files.update()
                .where(run_files.c.run_id == run.id, run_files.c.name.in_(list(update.uploaded)),
                       run_files.c.blob_key.is_not(None))
                .values(uploaded=True)
            )
        if update.complete:
            values["state"] = RunState.from_exit_code(update.exit_code).value
            values["exit_code"] = update.exit_code
            compaction_queue.request(conn, [run.id])
        elif update.preempting:
            values["state"] = RunState.PREEMPTING.value
        elif current.state != RunState.PREEMPTING.value:
            values["state"] = RunState.RUNNING.value
        run_repo.set_run_columns(conn, run.id, **values)
