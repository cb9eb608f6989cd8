"""The background thread of a run: it drains what ``log()`` queued, journals it, and (online)
sends it, so the training loop never waits for the disk or the network.

Back-pressure: the queue holds at most ``max_queue`` items. It only fills when the thread
cannot keep up with *journaling* (local disk), never because of the server: rows are
journaled whether or not the server answers, and sending picks them up from memory later.
When it is full, ``log()`` waits until the thread has journaled a batch; it never drops.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracklet.client import journal as jr
from tracklet.client.sender import Sender
from tracklet.client.values import Tensor, histogram, scalar, statistics
from tracklet.client.wire import WireError

#: Seconds between the thread's rounds (journal, then send).
INTERVAL = 0.2
STOP_INTERVAL = 0.01
#: Backoff after a failed post: doubling from the first to the last, with jitter.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0

HISTORY, SUMMARY, CONFIG, FINISH, FILE, CONSOLE = "h", "s", "c", "f", "u", "o"
ALERT, ARTIFACT = "a", "A"
#: The run file that collects the console, uploaded at the end (as the wandb SDK does).
OUTPUT_LOG = "output.log"
#: Queue items journaled between two releases of the GIL.
CHUNK = 256

_fast_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=True,
                               check_circular=False).encode


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities as the SDK writes them (``NaN``, ``Infinity``)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def _console_line(timestamp: float, text: str, error: bool) -> str:
    """A line as output.log holds it: ISO time then text, ``ERROR `` first for stderr."""
    stamp = datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None).isoformat()
    return f"ERROR {stamp} {text}" if error else f"{stamp} {text}"


class SummaryState:
    """The run's summary: the last value of every logged key, then the keys set explicitly,
    then ``_step``, ``_runtime``, ``_timestamp`` of the last row."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}
        self.explicit: dict[str, Any] = {}

    def add_row(self, row: dict[str, Any]) -> None:
        """Take a history row's values as the latest."""
        self.last.update(row)

    def line(self) -> str:
        """The complete summary as one JSON line."""
        summary = {**self.last, **self.explicit}
        runtime = summary.get("_runtime")
        if isinstance(runtime, (int, float)):
            summary["_wandb"] = {"runtime": int(runtime)}
        return dumps(summary)


class Uploader(threading.Thread):
    """Journals and (when ``sender`` is given) uploads one run. A daemon thread, so an exit
    without ``finish()`` reaches the atexit hook that finishes the run. ``config_sent``
    says the run was already created on the server with ``config`` (at init)."""

    def __init__(self, run_dir: Path, journal: jr.Journal, sender: Sender | None,
                 config: dict[str, Any], summary: SummaryState, max_queue: int = 100_000,
                 config_sent: bool = False) -> None:
        super().__init__(name=f"tracklet-uploader-{run_dir.name}", daemon=True)
        self.run_dir = run_dir
        self.journal = journal
        self.sender = sender
        self.config = dict(config)
        self.summary = summary
        self.queue: deque[tuple[str, Any]] = deque()
        self.max_queue = max_queue
        self._drained = threading.Condition()
        self._stop_event = threading.Event()
        #: Set to start a round now rather than after INTERVAL (a full queue, stop()).
        self._wake = threading.Event()
        self._deadline = float("inf")
        #: Journaled rows the server has not confirmed, and the count of all journaled rows.
        self._unsent: list[str] = []
        self._total = 0
        self._summary_dirty = False
        self._config_dirty = sender is not None and not config_sent
        self._exit_code: int | None = None
        #: True while a batch is taken off the queue and not yet journaled.
        self.busy = False
        #: Console lines not confirmed by the server, and the count of all journaled ones.
        self._console: list[str] = []
        self._console_total = 0
        #: Run files journaled and not yet confirmed uploaded.
        self._files: list[str] = []
        #: Alerts journaled and not confirmed by the server, and the count of all of them.
        self._alerts: list[dict[str, Any]] = []
        self._alerts_total = 0
        #: Artifact operations journaled and not yet done on the server, and their count.
        self._artifacts: list[dict[str, Any]] = []
        self._artifacts_total = 0
        self._failures = 0
        self._next_try = 0.0
        #: The last error from the server, for the message at finish.
        self.last_error: str | None = None
        #: True once everything (completion included) was acknowledged by the server.
        self.synced = False

    def put(self, kind: str, payload: Any) -> None:
        """Queue an item from the user's thread; waits only when the queue is full."""
        queue = self.queue
        if len(queue) >= self.max_queue:
            with self._drained:
                while len(queue) >= self.max_queue and self.is_alive():
                    self._wake.set()
                    self._drained.wait(0.1)
        queue.append((kind, payload))

    def start_sending_from(self, total: int) -> None:
        """Rows already journaled (a journal reopened on resume) and not to be resent."""
        self._total = total

    def stop(self, deadline: float) -> None:
        """Drain, send until done or ``deadline`` (time.monotonic), then end the thread."""
        self._deadline = deadline
        self._stop_event.set()
        self._wake.set()

    def run(self) -> None:
        """The thread's loop: journal what is queued, then send, every :data:`INTERVAL`."""
        try:
            while True:
                # Once stopping, rounds follow each other closely (the backoff still
                # spaces out posts to a failing server).
                self._wake.wait(STOP_INTERVAL if self._stop_event.is_set() else INTERVAL)
                self._wake.clear()
                stopping = self._stop_event.is_set()
                self._journal_queue()
                if self.sender is not None:
                    try:
                        self._send(final=stopping)
                    except Exception as exc:  # the thread must outlive any surprise
                        self._retry_later(WireError(f"unexpected: {exc!r}", retryable=True),
                                          stopping)
                if stopping and (self.sender is None or self.synced
                                 or time.monotonic() >= self._deadline):
                    break
        finally:
            self._journal_queue()
            self.journal.close()

    def _journal_queue(self) -> None:
        queue = self.queue
        if not queue:
            return
        self.busy = True
        # Only what is queued now: a tight training loop refills the queue as fast as it
        # drains, and the rows must reach the journal (and the server) meanwhile. Chunks
        # let go of the GIL in between, so log() never waits for a whole batch.
        todo = len(queue)
        while todo:
            chunk = min(todo, CHUNK)
            todo -= chunk
            self._journal_chunk(chunk)
            time.sleep(0)
        self.busy = False
        if self._exit_code is not None:
            self.journal.sync()
        with self._drained:
            self._drained.notify_all()

    def _journal_chunk(self, count: int) -> None:
        queue = self.queue
        payloads: list[bytes] = []
        lines: list[str] = []
        console: list[str] = []
        for _ in range(count):
            kind, payload = queue.popleft()
            if kind == HISTORY:
                lines.append(self._encode_row(payload, payloads))
            elif kind == CONSOLE:
                console.append(_console_line(*payload))
            elif kind == SUMMARY:
                patch = {k: scalar(v) for k, v in payload.items()}
                self.summary.explicit.update(patch)
                payloads.append(jr.SUMMARY + dumps(patch).encode("utf-8"))
                self._summary_dirty = True
            elif kind == CONFIG:
                patch = {k: scalar(v) for k, v in payload.items()}
                self.config.update(patch)
                payloads.append(jr.CONFIG + dumps(patch).encode("utf-8"))
                self._config_dirty = True
            elif kind == FILE:
                self._add_file(str(payload), payloads)
            elif kind == ARTIFACT:
                payloads.append(jr.ARTIFACT + dumps(payload).encode("utf-8"))
                self._artifacts.append(payload)
                self._artifacts_total += 1
            elif kind == ALERT:
                payloads.append(jr.ALERT + dumps(payload).encode("utf-8"))
                self._alerts.append(payload)
                self._alerts_total += 1
            elif kind == FINISH:
                self._journal_console(console, payloads)
                if (self.run_dir / "files" / OUTPUT_LOG).exists():
                    self._add_file(OUTPUT_LOG, payloads)
                self._exit_code = int(payload)
                payloads.append(jr.FINISH + dumps({"exit_code": self._exit_code}).encode())
        self._journal_console(console, payloads)
        if lines:
            # The chunk's rows in one record, after the files they reference: a torn tail
            # loses whole records only, so a row never survives without its file record.
            payloads.append(jr.HISTORY + "\n".join(lines).encode("utf-8"))
            self._unsent.extend(lines)
            self._total += len(lines)
            self._summary_dirty = True
        self.journal.append(payloads)

    def _journal_console(self, console: list[str], payloads: list[bytes]) -> None:
        if not console:
            return
        text = "\n".join(console)
        payloads.append(jr.CONSOLE + text.encode("utf-8"))
        path = self.run_dir / "files" / OUTPUT_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        self._console.extend(console)
        self._console_total += len(console)
        console.clear()

    def _add_file(self, name: str, payloads: list[bytes]) -> None:
        payloads.append(jr.FILE + name.encode("utf-8"))
        if name not in self._files:
            self._files.append(name)

    def _encode_row(self, row: dict[str, Any], payloads: list[bytes]) -> str:
        try:
            # Plain values (the common case) go straight through the C encoder; anything
            # it refuses (numpy scalars, tensors, objects) takes the converting path.
            line = _fast_dumps(row)
        except (TypeError, ValueError):
            pass
        else:
            self.summary.add_row(row)
            return line
        out: dict[str, Any] = {}
        for key, value in row.items():
            key = str(key)
            if isinstance(value, Tensor):
                out.update(self._tensor_values(key, value, payloads))
            else:
                out[key] = scalar(value)
        self.summary.add_row(out)
        return dumps(out)

    def _tensor_values(self, key: str, tensor: Tensor,
                       payloads: list[bytes]) -> dict[str, Any]:
        values: dict[str, Any] = {key: histogram(tensor.array)}
        for stat, number in statistics(tensor.array).items():
            values[f"{key}/{stat}"] = number
        if tensor.keep == "full":
            stored = self._store_tensor(tensor)
            # The file record goes before the row that references it.
            self._add_file(stored["path"], payloads)
            values[f"{key}/tensor"] = stored
        return values

    def _store_tensor(self, tensor: Tensor) -> dict[str, Any]:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, tensor.array, allow_pickle=False)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        relative = f"media/tensors/{digest}.npy"
        path = self.run_dir / "files" / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return {"_type": "tensor-file", "path": relative, "sha256": digest, "size": len(data),
                "shape": list(tensor.array.shape), "dtype": str(tensor.array.dtype)}

    def _send(self, final: bool) -> None:
        sender = self.sender
        assert sender is not None
        now = time.monotonic()
        if now < self._next_try or self.synced:
            return
        try:
            if self._config_dirty:
                sender.upsert(self.config)
                self._config_dirty = False
            if self._files:
                sender.upload_files(self._files)
                self._files.clear()
            if sender.artifacts_done < self._artifacts_total:
                try:
                    sender.send_artifacts(self._artifacts, self._artifacts_total)
                finally:
                    del self._artifacts[:len(self._artifacts)
                                        - (self._artifacts_total - sender.artifacts_done)]
            if sender.alerts_sent < self._alerts_total:
                try:
                    sender.send_alerts(self._alerts, self._alerts_total)
                finally:
                    del self._alerts[:len(self._alerts)
                                     - (self._alerts_total - sender.alerts_sent)]
            while True:
                work = (sender.pending(self._total) > 0 or self._summary_dirty
                        or sender.console_acked < self._console_total
                        or (self._exit_code is not None and not sender.complete))
                if not work:
                    break
                self._summary_dirty = False
                done = sender.post(self._unsent, self._total, self.summary.line(),
                                   self._exit_code, self._console, self._console_total)
                del self._unsent[:len(self._unsent) - sender.pending(self._total)]
                del self._console[:len(self._console)
                                  - (self._console_total - sender.console_acked)]
                if done:
                    break
            self.synced = self._exit_code is not None and sender.complete
            self._failures = 0
            self.last_error = None
        except WireError as exc:
            self._retry_later(exc, final)

    def _retry_later(self, exc: WireError, final: bool) -> None:
        self._summary_dirty = True
        self.last_error = str(exc)
        if not exc.retryable:
            # The server refuses this run's data for good: keep the journal for a sync.
            print(f"tracklet: the server refused the run's data: {exc}", file=sys.stderr)
            self.sender = None
            return
        self._failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
        if exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        if final:
            delay = min(delay, 2.0)
        self._next_try = time.monotonic() + delay * random.uniform(1.0, 1.25)
