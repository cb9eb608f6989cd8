"""GET /api/v1/runs/history: one run's exact history of chosen keys, streamed column-wise.

Query parameters: ``run`` (``entity/project/run``), ``keys`` (comma-separated metric keys),
optional ``min_step`` (inclusive) and ``max_step`` (exclusive), and ``format``: ``arrow``
(the default) answers one Arrow IPC stream (``application/vnd.apache.arrow.stream``) of
record batches with the columns ``_step`` and then each key; ``json`` answers::

    {"run": "e/p/r", "columns": ["_step", "loss"], "rows": [[0, 0.91], [1, 0.87], ...]}

with non-finite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` and
JSON-text columns decoded. Every row in the range holding at least one of the keys comes
back, in step order, nothing sampled; see :mod:`tracklet.storage.history.read.columns` for the
column types and how the two history tiers are merged.

The answer streams while one read transaction holds a consistent view of the run, so the
server's memory stays bounded whatever the history's length. Bad input and unknown runs are
answered before the first byte; an error after that (the run's export vanishing under a
rebuild) ends the stream early, which an Arrow reader reports as a truncated stream.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import InvalidInput
from tracklet.server.access import request_user
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.read.columns import ColumnScan
from tracklet.storage.history.read.tiers import RunHistory, begin_snapshot
from tracklet.storage.history.rows import dumps_row, json_safe
from tracklet.storage.metadata.runs import get_run_by_path

MAX_KEYS = 100
ARROW_STREAM = "application/vnd.apache.arrow.stream"
FORMATS = ("arrow", "json")
_INT64 = (-(2**63), 2**63 - 1)
_DONE = object()
# Answers up to about this size are encoded whole in one worker-thread call; longer ones
# stream from a producer thread after it.
INLINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Query:
    """A validated request."""

    run: str
    entity: str
    project: str
    name: str
    keys: list[str]
    min_step: int | None
    max_step: int | None
    format: str


def parse_query(params: Any) -> Query:
    """Validate the query parameters; InvalidInput says what is wrong."""
    run = (params.get("run") or "").strip()
    parts = run.split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(f"run must be entity/project/run, got {run!r}")
    keys = [k.strip() for k in (params.get("keys") or "").split(",") if k.strip()]
    keys = [k for k in dict.fromkeys(keys) if k != "_step"]
    if not keys:
        raise InvalidInput("keys is required: a comma-separated list of history keys")
    if len(keys) > MAX_KEYS:
        raise InvalidInput(f"at most {MAX_KEYS} keys per request, got {len(keys)}")
    lo, hi = _step(params.get("min_step"), "min_step"), _step(params.get("max_step"), "max_step")
    fmt = params.get("format") or "arrow"
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return Query(run, parts[0], parts[1], parts[2], keys, lo, hi, fmt)


def _step(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        step = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {value!r}") from None
    if not _INT64[0] <= step <= _INT64[1]:
        raise InvalidInput(f"{name} must fit in 64 bits, got {value!r}")
    return step




# -- encodings ----------------------------------------------------------------------------


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def arrow_chunks(scan: ColumnScan) -> Iterator[bytes | memoryview]:
    """The scan as one Arrow IPC stream: the schema, a message per record batch (handed
    out without copying), then the end-of-stream marker."""
    yield scan.schema.serialize().to_pybytes()
    for table in scan.tables():
        for batch in table.to_batches():
            yield memoryview(batch.serialize())
    yield _EOS


def json_chunks(scan: ColumnScan, run: str) -> Iterator[bytes]:
    """The scan as one JSON document, rows as arrays, a chunk per table."""
    names = [f.name for f in scan.schema]
    yield b'{"run":' + orjson.dumps(run) + b',"columns":' + orjson.dumps(names) + b',"rows":['
    first = True
    for table in scan.tables():
        columns = [_json_values(table.column(i), scan.schema.field(i))
                   for i in range(table.num_columns)]
        rows = list(zip(*columns, strict=True))
        try:
            body = orjson.dumps(rows)[1:-1]
        except TypeError:  # an integer past 64 bits, in a JSON-text column
            body = dumps_row(rows).encode()[1:-1]
        yield body if first else b"," + body
        first = False
    yield b"]}"


def _json_values(column: pa.ChunkedArray, field: pa.Field) -> list[Any]:
    values: list[Any] = column.to_pylist()
    if field.metadata and field.metadata.get(b"tracklet.encoding") == b"json":
        return [None if v is None else json_safe(loads(v)) for v in values]
    if pa.types.is_floating(column.type) and not pc.all(
            pc.or_kleene(pc.is_finite(column), pc.is_null(column))).as_py():
        return [v if v is None or math.isfinite(v) else json_safe(v) for v in values]
    return values


# -- streaming ----------------------------------------------------------------------------


class _Scan:
    """One request's scan: the run looked up and its access checked, a read view held open
    and the encoded chunks drawn from it, all in worker threads (one at a time)."""

    def __init__(self, storage: Storage, user: User, query: Query) -> None:
        self.storage = storage
        self.user = user
        self.query = query
        self._stack = ExitStack()
        self._chunks: Iterator[bytes | memoryview] = iter(())

    def open(self) -> None:
        """Find the run and plan the columns: errors up to here get their own status."""
        q = self.query
        require(self.user, Action.READ, q.entity, q.project)
        try:
            # One read transaction finds the run and reads its history.
            conn = self._stack.enter_context(self.storage.db.read())
            begin_snapshot(conn)
            run_id = get_run_by_path(conn, q.entity, q.project, q.name).id
            view = RunHistory(self.storage, conn, run_id)
            self._stack.callback(view.close)
            scan = ColumnScan(view, q.keys, q.min_step, q.max_step)
        except BaseException:
            self.close()
            raise
        self._chunks = arrow_chunks(scan) if q.format == "arrow" else json_chunks(scan, q.run)

    def take(self, budget: int) -> tuple[list[bytes | memoryview], bool]:
        """Chunks up to about ``budget`` bytes, and whether they are the last (the view is
        closed then)."""
        out: list[bytes | memoryview] = []
        size = 0
        try:
            for chunk in self._chunks:
                if chunk:
                    out.append(chunk)
                    size += len(chunk)
                if size >= budget:
                    return out, False
        except BaseException:
            self.close()
            raise
        self.close()
        return out, True

    def rest(self) -> Iterator[bytes | memoryview]:
        """The chunks not taken yet."""
        return (chunk for chunk in self._chunks if chunk)

    def close(self) -> None:
        """End the read transaction (idempotent)."""
        self._stack.close()


class _Producer:
    """Draws the rest of a long scan in its own thread, so encoding overlaps sending, and
    hands the chunks to the response through a small queue."""

    def __init__(self, scan: _Scan) -> None:
        self.scan = scan
        self.chunks: queue.Queue[object] = queue.Queue(maxsize=4)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="history-scan", daemon=True)
        self.thread.start()

    def _put(self, item: object) -> bool:
        while not self.stopped.is_set():
            try:
                self.chunks.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for chunk in self.scan.rest():
                if not self._put(chunk):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the response, which re-raises it
            self._put(exc)
        finally:
            self.scan.close()

    async def next(self) -> object:
        """The next chunk, ``_DONE``, or the exception that ended the scan."""
        try:
            return self.chunks.get_nowait()
        except queue.Empty:
            return await to_thread.run_sync(self.chunks.get)

    def stop(self) -> None:
        """Let the thread end (client gone): it stops at its next chunk."""
        self.stopped.set()


class _ScanResponse(StreamingResponse):
    """A streamed scan that ends its read transaction even when the body never started
    (the client left before the first byte): Starlette then never runs the iterator."""

    def __init__(self, head: list[bytes | memoryview], scan: _Scan, media_type: str) -> None:
        self.scan = scan
        self.handed_off = False
        super().__init__(self._body(head), media_type=media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.handed_off:
                self.scan.close()

    async def _body(self, head: list[bytes | memoryview]) -> AsyncIterator[bytes | memoryview]:
        for chunk in head:
            yield chunk
        # From here the producer thread owns the scan and closes it.
        self.handed_off = True
        producer = _Producer(self.scan)
        try:
            while True:
                item = await producer.next()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, (bytes, memoryview))
                yield item
        finally:
            producer.stop()


def _start(scan: _Scan) -> tuple[list[bytes | memoryview], bool]:
    scan.open()
    return scan.take(INLINE_BYTES)


async def runs_history(request: Request) -> Response:
    """Answer one history scan."""
    state: AppState = request.app.state.tracklet
    query = parse_query(request.query_params)
    scan = _Scan(state.storage, request_user(request), query)
    # One worker-thread call opens the scan and encodes its first INLINE_BYTES: a short
    # history is answered whole from there, without the producer thread's hand-offs (which
    # cost more than the scan itself for a few thousand rows); errors up to the first
    # chunk (unknown run, no access) still get their own status.
    head, done = await to_thread.run_sync(_start, scan)
    media = ARROW_STREAM if query.format == "arrow" else "application/json"
    if done:
        return Response(b"".join(head), media_type=media)
    return _ScanResponse(head, scan, media)
