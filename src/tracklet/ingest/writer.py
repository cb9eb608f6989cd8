"""Group commit for file_stream: one writer thread stores many requests per transaction.

Under load, one transaction per request means every request pays for a commit and dozens of
worker threads queue on SQLite's single write lock. Instead each request is parsed by its
handler and queued here; the writer takes everything waiting (up to a batch size) and
applies it in one transaction with :func:`apply_batch`. A request's future is settled only
after that transaction committed, so nothing is acknowledged before it is durable.

A batch that fails as a whole (a value the database refuses, a lost connection) is rolled
back and its requests are retried one transaction each, so one bad request cannot lose or
half-write the others. The queue is bounded: past ``max_pending`` requests or
``max_pending_lines`` lines waiting, :meth:`GroupWriter.submit` raises
:class:`Unavailable` (503 + Retry-After) at once rather than holding bodies without bound.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass

from tracklet.errors import TrackletError, Unavailable
from tracklet.ingest.filestream import StreamRequest, StreamResult, apply_batch
from tracklet.storage import Storage

log = logging.getLogger("tracklet.ingest")

_Outcome = StreamResult | BaseException


@dataclass
class _Item:
    request: StreamRequest
    lines: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[StreamResult]


def _lines(request: StreamRequest) -> int:
    u = request.update
    return sum(len(c.lines) for c in (u.history, u.events, u.summary, u.output) if c)


class GroupWriter:
    """A single writer thread applying queued file_stream requests in batches."""

    def __init__(self, storage: Storage, max_batch: int = 256, max_pending: int = 2048,
                 max_pending_lines: int = 2_000_000) -> None:
        self.storage = storage
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.max_pending_lines = max_pending_lines
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._pending_lines = 0
        self.batches = 0
        self._ids: dict[tuple[str, str, str], int] = {}
        self._thread = threading.Thread(target=self._run, name="tracklet-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Requests queued or being applied."""
        return self._pending

    async def submit(self, request: StreamRequest) -> StreamResult:
        """Queue ``request`` and wait until it is committed (or failed)."""
        n = _lines(request)
        with self._lock:
            if self._pending >= self.max_pending or (
                self._pending and self._pending_lines + n > self.max_pending_lines
            ):
                raise Unavailable("server busy: ingest queue full, retry shortly",
                                  retry_after=1.0)
            self._pending += 1
            self._pending_lines += n
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StreamResult] = loop.create_future()
        self._queue.put(_Item(request, n, loop, future))
        return await future

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                items.append(nxt)
            outcomes = self._apply(items)
            with self._lock:
                self._pending -= len(items)
                self._pending_lines -= sum(i.lines for i in items)
            for item, outcome in zip(items, outcomes, strict=True):
                item.loop.call_soon_threadsafe(_settle, item.future, outcome)

    def _apply(self, items: list[_Item]) -> list[_Outcome]:
        self.batches += 1
        if len(self._ids) > 100_000:  # bounded memory: a miss only costs one lookup
            self._ids.clear()
        try:
            return list(apply_batch(self.storage, [i.request for i in items], self._ids))
        except BaseException as exc:  # every caller must get an answer, whatever happened
            if len(items) == 1:
                if not isinstance(exc, TrackletError):
                    log.exception("file_stream write failed")
                return [exc]
        # The batch failed as a whole: give each request its own transaction, so only the
        # request at fault fails and the others are stored.
        return [self._apply(items=[i])[0] for i in items]


def _settle(future: asyncio.Future[StreamResult], outcome: _Outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
