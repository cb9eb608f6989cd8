"""Console capture: what the script prints goes to the terminal as before and, line by line,
into the run (``output.log``, as the wandb SDK records it)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

Sink = Callable[[float, str, bool], None]


class Tee:
    """Wraps ``sys.stdout`` or ``sys.stderr``: every write goes to the original stream;
    complete lines also go to ``sink(time, text, is_stderr)``. A carriage return keeps only
    the text after it (a progress bar's last state). Writes from ``ignore_thread`` (the
    uploader, reporting its own trouble) are not captured, so they cannot loop."""

    def __init__(self, stream: TextIO, sink: Sink, error: bool,
                 ignore_thread: Callable[[], int | None]) -> None:
        self._stream = stream
        self._sink = sink
        self._error = error
        self._ignore_thread = ignore_thread
        self._partial = ""
        self._lock = threading.Lock()
        self.active = True

    def write(self, text: str) -> int:
        """Write to the terminal, capture complete lines."""
        written = self._stream.write(text)
        if self.active and threading.get_ident() != self._ignore_thread():
            with self._lock:
                pieces = (self._partial + text).split("\n")
                self._partial = pieces.pop()
            now = time.time()
            for piece in pieces:
                self._sink(now, piece.rsplit("\r", 1)[-1], self._error)
        return written

    def flush(self) -> None:
        """Flush the original stream."""
        self._stream.flush()

    def close_capture(self) -> None:
        """Stop capturing; a trailing partial line is captured as a line."""
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial and self.active:
            self._sink(time.time(), partial.rsplit("\r", 1)[-1], self._error)
        self.active = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Capture:
    """Both streams of this process teed into one run, undone by :meth:`stop`."""

    def __init__(self, sink: Sink, ignore_thread: Callable[[], int | None]) -> None:
        self._out = Tee(sys.stdout, sink, False, ignore_thread)
        self._err = Tee(sys.stderr, sink, True, ignore_thread)
        sys.stdout = self._out
        sys.stderr = self._err

    def stop(self) -> None:
        """Capture no more and put the original streams back (unless someone replaced ours
        meanwhile: then ours just pass writes through)."""
        for tee, name in ((self._out, "stdout"), (self._err, "stderr")):
            tee.close_capture()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._stream)
