"""The file_stream protocol: parse a request body, then apply it idempotently by offset.

Every logical file is written by line index (``line[offset + i] = content[i]``), so a request
the SDK retries with the same body lands on the same rows, and console lines rewritten by a
carriage-return progress bar replace the earlier text instead of piling up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import msgspec
from sqlalchemy import Connection

from tracklet.config import Settings
from tracklet.domain.records import FileStreamUpdate, StreamChunk
from tracklet.domain.runs import RunState
from tracklet.errors import InvalidInput, NotFound, PayloadTooLarge, TrackletError
from tracklet.ingest import shared_stream
from tracklet.storage import Storage
from tracklet.storage.history.compaction import CHECKPOINT_ROWS
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live import write as live
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.strict_json import with_strict_shadows
from tracklet.storage.metadata.tables import run_files

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
OUTPUT = "output.log"

#: Offsets past this are not a real run's line numbers but an attempt to poke the database.
MAX_OFFSET = 2**53


@dataclass(frozen=True)
class StreamLimits:
    """What one file_stream line may hold (``ingest_max_*`` in :class:`Settings`): every
    read path (history pages, sampled history, the columnar scan, chart series, Parquet
    compaction) is exercised up to these limits, so whatever ingest accepts reads back."""

    #: Containers (objects and arrays) nested in one line, the line's own object included.
    #: Reading a Parquet export broke near 300 levels; every read path holds at 260.
    max_depth: int = 64
    #: Object keys in one line, nested objects' keys included.
    max_keys: int = 10_000
    #: Size of one line in bytes (UTF-8).
    max_line_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        """The limits configured in ``settings``."""
        return cls(max_depth=settings.ingest_max_depth, max_keys=settings.ingest_max_keys,
                   max_line_bytes=settings.ingest_max_line_bytes)


# An escape inside a string, a quote, a bracket or a colon: all the shape check looks at.
_SHAPE_TOKENS = re.compile(r'\\.|["{}\[\]:]')


def _check_line(name: str, index: int, line: str, limits: StreamLimits,
                shaped: bool = True) -> None:
    """InvalidInput (PayloadTooLarge for size) naming the limit a line breaks. Counting
    brackets and colons bounds depth and keys from above, so the scan of the line's tokens
    only runs for the rare line those bounds do not clear."""
    where = f"files.{name}.content[{index}]"
    size = len(line)
    if size > limits.max_line_bytes or (
            size * 4 > limits.max_line_bytes and len(line.encode("utf-8", "surrogatepass"))
            > limits.max_line_bytes):
        raise PayloadTooLarge(f"{where} is over the limit of {limits.max_line_bytes} bytes "
                              "per line (ingest_max_line_bytes)")
    if not shaped:
        return
    if (line.count("{") + line.count("[") <= limits.max_depth
            and line.count(":") <= limits.max_keys):
        return
    depth = deepest = keys = 0
    in_string = False
    for match in _SHAPE_TOKENS.finditer(line):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or len(token) > 1:
            continue
        elif token in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ":":
            keys += 1
        else:
            depth -= 1
    if deepest > limits.max_depth:
        raise InvalidInput(f"{where} is nested {deepest} levels deep, over the limit of "
                           f"{limits.max_depth} (ingest_max_depth)")
    if keys > limits.max_keys:
        raise InvalidInput(f"{where} has {keys} keys, over the limit of {limits.max_keys} "
                           "(ingest_max_keys)")


def _check_lines(name: str, chunk: StreamChunk, limits: StreamLimits) -> None:
    shaped = name != OUTPUT
    for i, line in enumerate(chunk.lines):
        _check_line(name, i, line, limits, shaped)


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
    if name == OUTPUT:
        # The legacy sender of SDK releases before 0.28 (their `wandb sync`) ends every
        # console line with a newline; wandb-core sends none. A line is stored without it.
        content = [c[:-1] if c.endswith("\n") else c for c in content]
    return StreamChunk(offset=offset, lines=tuple(content))


def _json_object(name: str, index: int, line: str) -> dict[str, Any]:
    try:
        value = loads(line)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise InvalidInput(f"files.{name}.content[{index}] is not a JSON object")
    return value


class _StepOnly(msgspec.Struct, gc=False):
    """A history line read for its ``_step`` alone: the other keys are checked and skipped,
    so no Python objects are built for the metric values."""

    step: Annotated[int, msgspec.Meta(ge=-live.INT64_MAX - 1, le=live.INT64_MAX)] | (
        msgspec.UnsetType) = msgspec.field(name="_step", default=msgspec.UNSET)


class _AnyObject(msgspec.Struct, gc=False):
    """A line that must be a JSON object; every key is checked and skipped."""


_STEP_ONLY = msgspec.json.Decoder(_StepOnly)
_ANY_OBJECT = msgspec.json.Decoder(_AnyObject)

#: What the fast decoders raise for a line they do not take: anything strict JSON, a plain
#: int ``_step`` or the shallower msgspec nesting limit rules out, and lone surrogates.
_NOT_FAST = (msgspec.DecodeError, UnicodeEncodeError, RecursionError)


def _checked_step(index: int, line: str) -> int | None:
    row = _json_object(HISTORY, index, line)
    step = live.step_value(row)
    if step is None and "_step" in row:
        raise InvalidInput(f"files.{HISTORY}.content[{index}] has a _step that is not an integer")
    return step


def _history_steps(chunk: StreamChunk) -> tuple[int | None, ...]:
    # Fast path per line: strict JSON objects whose _step is absent or an int64. Everything it
    # does not take (NaN, float or huge steps, malformed text) goes through the checked path,
    # which decides acceptance and the error message exactly as the lenient parser does; the
    # fast path only ever accepts lines the checked path accepts, with the same step.
    decode = _STEP_ONLY.decode
    unset = msgspec.UNSET
    steps: list[int | None] = []
    append = steps.append
    for i, line in enumerate(chunk.lines):
        try:
            step = decode(line).step
        except _NOT_FAST:
            append(_checked_step(i, line))
        else:
            append(None if step is unset else step)
    return tuple(steps)


def _check_objects(name: str, chunk: StreamChunk) -> None:
    decode = _ANY_OBJECT.decode
    for i, line in enumerate(chunk.lines):
        try:
            decode(line)
        except _NOT_FAST:
            _json_object(name, i, line)


def parse_file_stream(payload: Any, limits: StreamLimits | None = None) -> FileStreamUpdate:
    """Validate a file_stream body. Unknown file names and keys are ignored.

    History, events and summary lines must each be a JSON object (NaN and Infinity allowed,
    as the SDK writes them) within ``limits`` (nesting, keys, line size; the defaults
    without it); anything else is InvalidInput and nothing of the request is kept.
    """
    limits = limits or StreamLimits()
    if not isinstance(payload, dict):
        raise InvalidInput("file_stream body must be a JSON object")
    files = payload.get("files")
    if files is None:
        files = {}
    if not isinstance(files, dict):
        raise InvalidInput("'files' must be an object")
    chunks = {name: _chunk(name, files[name]) for name in (HISTORY, EVENTS, SUMMARY, OUTPUT)
              if name in files}
    for name, chunk in chunks.items():
        _check_lines(name, chunk, limits)
    history = chunks.get(HISTORY)
    steps = _history_steps(history) if history else ()
    for name in (EVENTS, SUMMARY):
        if name in chunks:
            _check_objects(name, chunks[name])
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


@dataclass(frozen=True)
class StreamRequest:
    """One parsed file_stream request for the run ``entity/project/name``."""

    entity: str
    project: str
    name: str
    update: FileStreamUpdate
    #: The writer of a shared-mode run (X-WANDB-ASYNC-CLIENT-ID): its offsets are its own.
    writer: str | None = None


class _Staged:
    """A run's counters as a batch of requests changes them, and the columns to write."""

    def __init__(self, row: Sequence[Any]) -> None:
        (self.id, self.history_line_count, self.last_step, self.events_line_count,
         self.log_line_count, self.state, stop) = row
        self.stop_requested = bool(stop)
        self.values: dict[str, Any] = {}
        self.writers: shared_stream.Writers | None = None


#: The run columns a file_stream request reads, for runs looked up by id, with their path
#: so a cached id is only used while it still names the same run.
_STAGE_SQL = (
    "SELECT r.id, r.history_line_count, r.last_step, r.events_line_count, r.log_line_count, "
    "r.state, r.stop_requested, e.name, p.name, r.name FROM runs r "
    "JOIN projects p ON p.id = r.project_id JOIN entities e ON e.id = p.entity_id "
    "WHERE r.id IN ({}) ORDER BY r.id"
)
_PLACEHOLDER = {"postgresql": "%s"}
#: On PostgreSQL several server processes may write one run at once (a retry landing on
#: another process while the first try is still being stored): the batch locks its runs'
#: rows first, in id order, so it reads their counters and chunks only after any other
#: batch writing them committed. SQLite has one writer at a time anyway.
_LOCK = {"postgresql": " FOR UPDATE OF r"}


def _load_runs(conn: Connection, keys: set[tuple[str, str, str]],
               ids: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], _Staged]:
    """The staged state of every run in ``keys`` that exists, via the ``ids`` cache."""
    for key in [k for k in keys if k not in ids]:
        run = run_repo.find_run_by_path(conn, *key)
        if run is not None:
            ids[key] = run.id
    staged: dict[tuple[str, str, str], _Staged] = {}
    known = sorted({ids[k] for k in keys if k in ids})
    if known:
        dialect = conn.dialect.name
        mark = _PLACEHOLDER.get(dialect, "?")
        sql = _STAGE_SQL.format(", ".join([mark] * len(known))) + _LOCK.get(dialect, "")
        for row in conn.exec_driver_sql(sql, tuple(known)):
            key = (row[7], row[8], row[9])
            if key in keys and ids.get(key) == row[0]:
                staged[key] = _Staged(row[:7])
    for key in keys - staged.keys():
        # A cached id that no longer names this path (the run was deleted or renamed):
        # look the path up again.
        ids.pop(key, None)
        run = run_repo.find_run_by_path(conn, *key)
        if run is not None:
            ids[key] = run.id
            staged[key] = _Staged((run.id, run.history_line_count, run.last_step,
                                   run.events_line_count, run.log_line_count, run.state,
                                   run.stop_requested))
    return staged


def _update_run(conn: Connection, run_id: int, values: dict[str, Any]) -> None:
    values = with_strict_shadows(values)
    if conn.dialect.name not in ("sqlite", "postgresql"):
        run_repo.set_run_columns(conn, run_id, **values)
        return
    mark = _PLACEHOLDER.get(conn.dialect.name, "?")
    quote = conn.dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = {mark}" for c in values)
    # Bumping the revision invalidates cached run listings (summary and state change here).
    conn.exec_driver_sql(f"UPDATE runs SET {sets}, revision = revision + 1 WHERE id = {mark}",
                         (*values.values(), run_id))


class _Lines:
    """Rows of one batch, written with one executemany per table in request order, so a
    later request's line replaces an earlier one's at the same index."""

    def __init__(self) -> None:
        self.history = live.HistoryWrites()
        self.events: list[tuple[Any, ...]] = []
        self.console: list[tuple[Any, ...]] = []
        #: Runs whose history just grew past another CHECKPOINT_ROWS lines.
        self.checkpoints: dict[int, None] = {}

    def flush(self, conn: Connection) -> None:
        self.history.flush(conn)
        live.write_event_rows(conn, self.events)
        live.write_console_rows(conn, self.console)
        for run_id in self.checkpoints:
            compaction_queue.request_once(conn, run_id)


def apply_file_stream(
    storage: Storage, entity: str, project: str, name: str, update: FileStreamUpdate
) -> StreamResult:
    """Store everything in ``update`` in one transaction; repeating it changes nothing.

    Any request, even an empty heartbeat, refreshes the run's heartbeat and makes it live
    again (a resumed run, or one wrongly presumed crashed); ``complete`` ends it.
    """
    result = apply_batch(storage, [StreamRequest(entity, project, name, update)])[0]
    if isinstance(result, BaseException):
        raise result
    return result


def apply_batch(
    storage: Storage, requests: Sequence[StreamRequest],
    ids: dict[tuple[str, str, str], int] | None = None,
) -> list[StreamResult | TrackletError]:
    """Store many requests in one write transaction (group commit), in order.

    Each request's outcome is its result or the domain error it alone caused (a run that does
    not exist); nothing is returned before the transaction committed. Any other failure
    rolls the whole transaction back and raises, storing nothing of any request. ``ids``
    caches run paths to ids across batches (each use is checked against the run's path).
    """
    outcomes: list[StreamResult | TrackletError] = []
    cache: dict[tuple[str, str, str], int] = {} if ids is None else ids
    with storage.db.write() as conn:
        staged = _load_runs(conn, {(r.entity, r.project, r.name) for r in requests}, cache)
        lines = _Lines()
        now = time.time()
        for req in requests:
            key = (req.entity, req.project, req.name)
            run = staged.get(key)
            if run is None:
                outcomes.append(NotFound(f"run {'/'.join(key)} not found"))
                continue
            if req.writer is None:
                outcomes.append(_stage(conn, run, req.update, lines, now))
            else:
                outcomes.append(_stage(conn, run, _place(conn, run, req.writer, req.update,
                                                         lines), lines, now))
        lines.flush(conn)
        for run in staged.values():
            if run.writers is not None:
                run.writers.flush(conn)
            if run.values:
                _update_run(conn, run.id, run.values)
    return outcomes


def _place(conn: Connection, cur: _Staged, writer: str, update: FileStreamUpdate,
           lines: _Lines) -> FileStreamUpdate:
    """A shared-mode writer's request moved into the run's line space (see
    :mod:`.shared_stream`): console and metrics lines are queued here, history and the
    rest go on through :func:`_stage` like any request's."""
    if cur.writers is None:
        cur.writers = shared_stream.Writers(cur.id)
    counts = {shared_stream.HISTORY: cur.history_line_count,
              shared_stream.OUTPUT: cur.log_line_count,
              shared_stream.EVENTS: cur.events_line_count}
    placed = shared_stream.place(conn, cur.writers, writer, update, counts, cur.last_step)
    lines.console.extend((cur.id, line, live.storable(text)) for line, text in placed.output)
    lines.events.extend((cur.id, line, live.storable(text)) for line, text in placed.events)
    if counts[shared_stream.OUTPUT] > cur.log_line_count:
        cur.log_line_count = cur.values["log_line_count"] = counts[shared_stream.OUTPUT]
    if counts[shared_stream.EVENTS] > cur.events_line_count:
        cur.events_line_count = cur.values["events_line_count"] = counts[shared_stream.EVENTS]
        cur.values["system_metrics"] = placed.events[-1][1]
    summary = update.summary
    if summary and summary.lines:
        merged = shared_stream.merged_summary(conn, cur.id, cur.values.get("summary"),
                                              summary.lines)
        summary = StreamChunk(offset=0, lines=(merged,))
    written: set[int] = set()
    for line, text, step in placed.history:
        # A line written before (a merge into another writer's row) is replaced in place.
        fresh = line >= cur.history_line_count and line not in written
        written.add(line)
        lines.history.add(cur.id, StreamChunk(offset=line, lines=(text,)), (step,),
                          known_end=cur.history_line_count if fresh else None)
        if cur.last_step is None or step > cur.last_step:
            cur.last_step = cur.values["last_step"] = step
    end = counts[shared_stream.HISTORY]
    if end > cur.history_line_count:
        if end // CHECKPOINT_ROWS > cur.history_line_count // CHECKPOINT_ROWS:
            lines.checkpoints[cur.id] = None
        cur.history_line_count = cur.values["history_line_count"] = end
    return replace(update, history=None, history_steps=(), events=None, output=None,
                   summary=summary)


def _stage(conn: Connection, cur: _Staged, update: FileStreamUpdate, lines: _Lines,
           now: float) -> StreamResult:
    run_id = cur.id
    values = cur.values
    values["heartbeat_at"] = now
    values["updated_at"] = now
    if update.history and update.history.lines:
        end, last = lines.history.add(run_id, update.history, update.history_steps,
                                      known_end=cur.history_line_count)
        if end > cur.history_line_count:
            if end // CHECKPOINT_ROWS > cur.history_line_count // CHECKPOINT_ROWS:
                lines.checkpoints[run_id] = None
            cur.history_line_count = values["history_line_count"] = end
        if last is not None and (cur.last_step is None or last > cur.last_step):
            cur.last_step = values["last_step"] = last
    if update.events and update.events.lines:
        end = live.line_rows(lines.events, run_id, update.events)
        if end >= cur.events_line_count:
            values["system_metrics"] = update.events.lines[-1]
            cur.events_line_count = values["events_line_count"] = end
    if update.output and update.output.lines:
        end = live.line_rows(lines.console, run_id, update.output)
        if end > cur.log_line_count:
            cur.log_line_count = values["log_line_count"] = end
    if update.summary and update.summary.lines:
        values["summary"] = update.summary.lines[-1]
    if update.uploaded:
        conn.execute(
            run_files.update()
            .where(run_files.c.run_id == run_id, run_files.c.name.in_(list(update.uploaded)),
                   run_files.c.blob_key.is_not(None))
            .values(uploaded=True)
        )
    stopped = cur.stop_requested and not update.complete
    if update.complete:
        cur.state = values["state"] = RunState.on_complete(
            update.exit_code, cur.stop_requested).value
        values["exit_code"] = update.exit_code
        cur.stop_requested = values["stop_requested"] = False
        compaction_queue.request(conn, [run_id])
    elif update.preempting:
        cur.state = values["state"] = RunState.PREEMPTING.value
    elif cur.state != RunState.PREEMPTING.value:
        if cur.state != RunState.RUNNING.value:
            values["exit_code"] = None
        cur.state = values["state"] = RunState.RUNNING.value
    return StreamResult(stopped=stopped)
