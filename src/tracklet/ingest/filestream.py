"""The file_stream protocol: parse a request body, then apply it idempotently by offset.

Every logical file is written by line index (``line[offset + i] = content[i]``), so a request
the SDK retries with the same body lands on the same rows, and console lines rewritten by a
carriage-return progress bar replace the earlier text instead of piling up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tracklet.domain.records import FileStreamUpdate, StreamChunk
from tracklet.domain.runs import RunState
from tracklet.errors import InvalidInput, NotFound
from tracklet.storage import Storage
from tracklet.storage.history import live
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import run_files

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
OUTPUT = "output.log"

#: Offsets past this are not a real run's line numbers but an attempt to poke the database.
MAX_OFFSET = 2**53


@dataclass(frozen=True)
class StreamResult:
    """What the file_stream response tells the client: whether someone asked it to stop."""

    stopped: bool = False


def _chunk(name: str, value: Any) -> StreamChunk:
    if not isinstance(value, dict):
        raise InvalidInput(f"files.{name} must be an object with 'offset' and 'content'")
    offset = value.get("offset", 0)
    content = value.get("content", [])
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"files.{name}.offset must be a non-negative integer")
    if not isinstance(content, list) or not all(isinstance(c, str) for c in content):
        raise InvalidInput(f"files.{name}.content must be a list of strings")
    return StreamChunk(offset=offset, lines=tuple(content))


def _json_object(name: str, index: int, line: str) -> dict[str, Any]:
    try:
        value = loads(line)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise InvalidInput(f"files.{name}.content[{index}] is not a JSON object")
    return value


def _history_steps(chunk: StreamChunk) -> tuple[int | None, ...]:
    steps: list[int | None] = []
    for i, line in enumerate(chunk.lines):
        row = _json_object(HISTORY, i, line)
        step = live.step_value(row)
        if step is None and "_step" in row:
            raise InvalidInput(f"files.{HISTORY}.content[{i}] has a _step that is not an integer")
        steps.append(step)
    return tuple(steps)


def parse_file_stream(payload: Any) -> FileStreamUpdate:
    """Validate a file_stream body. Unknown file names and keys are ignored.

    History, events and summary lines must each be a JSON object (NaN and Infinity allowed,
    as the SDK writes them); anything else is InvalidInput and nothing of the request is kept.
    """
    if not isinstance(payload, dict):
        raise InvalidInput("file_stream body must be a JSON object")
    files = payload.get("files")
    if files is None:
        files = {}
    if not isinstance(files, dict):
        raise InvalidInput("'files' must be an object")
    chunks = {name: _chunk(name, files[name]) for name in (HISTORY, EVENTS, SUMMARY, OUTPUT)
              if name in files}
    history = chunks.get(HISTORY)
    steps = _history_steps(history) if history else ()
    for name in (EVENTS, SUMMARY):
        if name in chunks:
            for i, line in enumerate(chunks[name].lines):
                _json_object(name, i, line)
    uploaded = payload.get("uploaded")
    if uploaded is None:
        uploaded = []
    if not isinstance(uploaded, list) or not all(isinstance(u, str) for u in uploaded):
        raise InvalidInput("'uploaded' must be a list of file names")
    exit_code = payload.get("exitcode")
    if exit_code is not None and (
        isinstance(exit_code, bool) or not isinstance(exit_code, int)
        or not -(2**31) <= exit_code < 2**31
    ):
        raise InvalidInput("'exitcode' must be a 32-bit integer")
    complete = payload.get("complete", False)
    preempting = payload.get("preempting", False)
    if not isinstance(complete, bool) or not isinstance(preempting, bool):
        raise InvalidInput("'complete' and 'preempting' must be booleans")
    return FileStreamUpdate(
        history=history,
        history_steps=steps,
        events=chunks.get(EVENTS),
        summary=chunks.get(SUMMARY),
        output=chunks.get(OUTPUT),
        uploaded=tuple(uploaded),
        preempting=preempting,
        complete=complete,
        exit_code=exit_code,
    )


def apply_file_stream(
    storage: Storage, entity: str, project: str, name: str, update: FileStreamUpdate
) -> StreamResult:
    """Store everything in ``update`` in one transaction; repeating it changes nothing.

    Any request, even an empty heartbeat, refreshes the run's heartbeat and makes it live
    again (a resumed run, or one wrongly presumed crashed); ``complete`` ends it.
    """
    with storage.db.write() as conn:
        current = run_repo.find_run_by_path(conn, entity, project, name)
        if current is None:
            raise NotFound(f"run {entity}/{project}/{name} not found")
        run_id = current.id
        now = time.time()
        values: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}
        if update.history and update.history.lines:
            end, last = live.write_history(conn, run_id, update.history, update.history_steps)
            values["history_line_count"] = max(current.history_line_count, end)
            if last is not None and (current.last_step is None or last > current.last_step):
                values["last_step"] = last
        if update.events and update.events.lines:
            end = live.write_events(conn, run_id, update.events)
            values["events_line_count"] = max(current.events_line_count, end)
            if end >= current.events_line_count:
                values["system_metrics"] = update.events.lines[-1]
        if update.output and update.output.lines:
            end = live.write_console(conn, run_id, update.output)
            values["log_line_count"] = max(current.log_line_count, end)
        if update.summary and update.summary.lines:
            values["summary"] = update.summary.lines[-1]
        if update.uploaded:
            conn.execute(
                run_files.update()
                .where(run_files.c.run_id == run_id, run_files.c.name.in_(list(update.uploaded)),
                       run_files.c.blob_key.is_not(None))
                .values(uploaded=True)
            )
        if update.complete:
            values["state"] = RunState.on_complete(update.exit_code, current.stop_requested).value
            values["exit_code"] = update.exit_code
            values["stop_requested"] = False
            compaction_queue.request(conn, [run_id])
        elif update.preempting:
            values["state"] = RunState.PREEMPTING.value
        elif current.state != RunState.PREEMPTING.value:
            values["state"] = RunState.RUNNING.value
            if current.state != RunState.RUNNING.value:
                values["exit_code"] = None
        run_repo.set_run_columns(conn, run_id, **values)
        return StreamResult(stopped=current.stop_requested and not update.complete)
