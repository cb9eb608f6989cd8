"""Shared mode: several processes write one run (``wandb.init(mode="shared")``).

Each writer's file_stream counts its lines from 0 (and, with wandb 0.31, its steps from 0;
older releases may leave ``_step`` out), naming itself in ``X-WANDB-ASYNC-CLIENT-ID``. Here
a writer's request is translated into the run's own line space before it is stored:

* history: lines below the writer's next offset are stored already (a retry) and skipped.
  Rows merge by ``_step``: a writer's row for a step another writer logged already is
  merged into that row (its keys win), as W&B merges them; a row for a new step is
  appended (a row without ``_step`` gets the run's next step). The run remembers where its
  latest :data:`RECENT_STEPS` steps are; a row for an older step, or for one whose row was
  compacted into a Parquet part meanwhile, is stored as a row of its own for that step;
* console and system metrics: new lines are appended; a line the writer sends again (a
  progress bar rewriting its line) replaces the run line it was stored at;
* summary: the writer's keys are merged into the run's summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, select

from tracklet.domain.records import FileStreamUpdate, StreamChunk
from tracklet.storage.history.jsonline import dumps, loads, loads_object
from tracklet.storage.history.live.read import stepped_lines
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata.tables import runs, stream_writers
from tracklet.storage.metadata.upsert import upsert_rows

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"

#: How many of a writer's latest console/metrics lines can still be rewritten in place.
RECENT_LINES = 256
#: How many of a run's latest steps rows of other writers can still be merged into.
RECENT_STEPS = 4096
#: The ``stream_writers`` row (writer, file) where a run keeps the lines of its recent steps.
_STEPS = ("", "steps")


@dataclass
class WriterState:
    """Where one writer's file stands: its next offset and its latest lines' run lines."""

    next_offset: int = 0
    recent: dict[int, int] = field(default_factory=dict)
    dirty: bool = False


@dataclass
class Writers:
    """The writer states of one run as a batch of requests changes them."""

    run_id: int
    states: dict[tuple[str, str], WriterState] = field(default_factory=dict)
    #: Texts of history lines this batch wrote, by line (newer than the stored ones).
    texts: dict[int, str] = field(default_factory=dict)

    def state(self, conn: Connection, writer: str, name: str) -> WriterState:
        """The state of ``writer``'s file ``name``, read once per batch."""
        key = (writer, name)
        found = self.states.get(key)
        if found is None:
            row = conn.execute(
                select(stream_writers.c.next_offset, stream_writers.c.recent).where(
                    stream_writers.c.run_id == self.run_id, stream_writers.c.writer == writer,
                    stream_writers.c.file == name)).first()
            found = WriterState() if row is None else WriterState(
                int(row[0]), {int(k): int(v) for k, v in orjson.loads(row[1]).items()})
            self.states[key] = found
        return found

    def flush(self, conn: Connection) -> None:
        """Store the states this batch changed."""
        rows = [{"run_id": self.run_id, "writer": writer, "file": name,
                 "next_offset": st.next_offset,
                 "recent": orjson.dumps({str(k): v for k, v in st.recent.items()}).decode()}
                for (writer, name), st in self.states.items() if st.dirty]
        if rows:
            upsert_rows(conn, stream_writers, rows, keys=("run_id", "writer", "file"),
                        update=("next_offset", "recent"))


@dataclass(frozen=True)
class Placed:
    """A writer's request in the run's line space."""

    #: (run line, text, step) of history lines: new lines and merged rewrites.
    history: list[tuple[int, str, int]]
    #: (run line, text) of console and system-metrics lines.
    output: list[tuple[int, str]]
    events: list[tuple[int, str]]


def place(conn: Connection, writers: Writers, writer: str, update: FileStreamUpdate,
          lines: dict[str, int], last_step: int | None) -> Placed:
    """Translate ``update`` from ``writer``'s offsets into the run's; ``lines`` holds the
    run's line counts per file and is advanced past the lines this request appends."""
    history: list[tuple[int, str, int]] = []
    if update.history:
        st = writers.state(conn, writer, HISTORY)
        where = writers.state(conn, *_STEPS)
        newest = -1 if last_step is None else last_step
        for i, text in enumerate(update.history.lines):
            offset = update.history.offset + i
            if offset < st.next_offset:
                continue
            step = update.history_steps[i] if i < len(update.history_steps) else None
            if step is None:
                step = newest + 1
                text = _with_step(text, step)
            newest = max(newest, step)
            line = where.recent.get(step)
            old = None if line is None else _text(conn, writers, line)
            if line is None or old is None:
                line = lines[HISTORY]
                lines[HISTORY] = line + 1
                where.recent[step] = line
            else:
                text = _merged(old, text)
            writers.texts[line] = text
            history.append((line, text, step))
            st.next_offset = offset + 1
            st.dirty = where.dirty = True
        if len(where.recent) > RECENT_STEPS:
            for step in sorted(where.recent)[:-RECENT_STEPS]:
                del where.recent[step]
    return Placed(history,
                  _place_lines(conn, writers, writer, OUTPUT, update.output, lines),
                  _place_lines(conn, writers, writer, EVENTS, update.events, lines))


def _text(conn: Connection, writers: Writers, line: int) -> str | None:
    """The history line's text, or None when it is no longer in the live tier."""
    text = writers.texts.get(line)
    if text is None:
        text = next(iter(stepped_lines(conn, writers.run_id, line, line)), None)
    return text


def _merged(old: str, new: str) -> str:
    """Two rows of one step as one: the keys of both, ``new``'s values where both have one."""
    before, after = loads_object(old), loads_object(new)
    if before is None or after is None:
        return new
    return dumps_row({**before, **after})


def _place_lines(conn: Connection, writers: Writers, writer: str, name: str,
                 chunk: StreamChunk | None, lines: dict[str, int]) -> list[tuple[int, str]]:
    if chunk is None or not chunk.lines:
        return []
    st = writers.state(conn, writer, name)
    placed: list[tuple[int, str]] = []
    for i, text in enumerate(chunk.lines):
        offset = chunk.offset + i
        line = st.recent.get(offset)
        if line is None:
            if offset < st.next_offset:
                continue  # older than anything that can still be rewritten
            line = lines[name]
            lines[name] = line + 1
            st.recent[offset] = line
        placed.append((line, text))
        st.next_offset = max(st.next_offset, offset + 1)
        st.dirty = True
    if len(st.recent) > RECENT_LINES:
        for offset in sorted(st.recent)[:-RECENT_LINES]:
            del st.recent[offset]
    return placed


def _with_step(text: str, step: int) -> str:
    """The line with ``_step`` added in front, its own text kept byte for byte (the parser
    already checked it is an object without a ``_step``)."""
    body = text.lstrip()[1:].lstrip()
    return f'{{"_step":{step}' + ("}" if body.startswith("}") else "," + body)


def merged_summary(conn: Connection, run_id: int, pending: str | None,
                   lines: Sequence[str]) -> str:
    """The run's summary (``pending`` when this batch changed it already) with the keys of
    the writer's latest summary line merged in."""
    if pending is None:
        pending = conn.execute(select(runs.c.summary).where(runs.c.id == run_id)).scalar()
    current = loads(pending) if pending else {}
    if not isinstance(current, dict):
        current = {}
    update = loads(lines[-1])
    if isinstance(update, dict):
        current.update(update)
    return str(dumps(current))
