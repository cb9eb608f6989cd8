"""Prometheus metrics of one server process: requests by route and status, latency
histograms, file_stream rows, blob store errors (counted by the storage layer), and gauges
read at scrape time (ingest queue, compaction backlog, database pool). ``GET /metrics``
answers them in the text exposition format.

Each process counts its own requests (a scraper of several processes behind one address
sees whichever answers; scrape each process's own port, or run one process per port).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency histogram bounds in seconds (Prometheus' defaults plus a finer low end).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
           math.inf)
_UNMATCHED = "unmatched"


class Metrics:
    """Counters and histograms, safe to update from the event loop and worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            counts = self.latency.setdefault(route, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.latency_sum[route] += seconds

    def count_rows(self, kind: str, n: int) -> None:
        """Count ``n`` file_stream lines of ``kind`` (history, events, console, summary)."""
        if n:
            with self._lock:
                self.rows[kind] += n

    def render(self, gauges: Iterable[tuple[str, str, float]] = (),
               blob_errors: Mapping[tuple[str, str], int] | None = None) -> str:
        """The text exposition format; ``gauges`` are (name, help, value) read just now,
        ``blob_errors`` the blob store's failures by (operation, error class)."""
        out: list[str] = []
        with self._lock:
            requests = sorted(self.requests.items())
            latency = {k: list(v) for k, v in self.latency.items()}
            sums = dict(self.latency_sum)
            rows = sorted(self.rows.items())
        out += ["# HELP tracklet_http_requests_total Requests answered, by route template, "
                "method and status.", "# TYPE tracklet_http_requests_total counter"]
        for (route, method, status), n in requests:
            labels = _labels(route=route, method=method, status=status)
            out.append(f"tracklet_http_requests_total{{{labels}}} {n}")
        out += ["# HELP tracklet_http_request_duration_seconds Time from the request to the "
                "start of the answer, by route template.",
                "# TYPE tracklet_http_request_duration_seconds histogram"]
        for route in sorted(latency):
            for bound, n in zip(BUCKETS, latency[route], strict=True):
                le = "+Inf" if bound == math.inf else repr(bound)
                out.append("tracklet_http_request_duration_seconds_bucket"
                           f"{{{_labels(route=route, le=le)}}} {n}")
            out.append(f"tracklet_http_request_duration_seconds_sum{{{_labels(route=route)}}} "
                       f"{sums[route]:.6f}")
            out.append("tracklet_http_request_duration_seconds_count"
                       f"{{{_labels(route=route)}}} {latency[route][-1]}")
        out += ["# HELP tracklet_file_stream_rows_total file_stream lines accepted, by kind.",
                "# TYPE tracklet_file_stream_rows_total counter"]
        for kind, n in rows:
            out.append(f"tracklet_file_stream_rows_total{{{_labels(kind=kind)}}} {n}")
        out += ["# HELP tracklet_blob_store_errors_total Blob store calls that failed, by "
                "operation and error (a missing object is not a failure).",
                "# TYPE tracklet_blob_store_errors_total counter"]
        for (operation, error), n in sorted((blob_errors or {}).items()):
            labels = _labels(operation=operation, error=error)
            out.append(f"tracklet_blob_store_errors_total{{{labels}}} {n}")
        out += ["# HELP tracklet_process_start_time_seconds When this process started.",
                "# TYPE tracklet_process_start_time_seconds gauge",
                f"tracklet_process_start_time_seconds {self.started:.3f}"]
        for name, help_text, value in gauges:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class RequestMetrics:
    """ASGI middleware: times each HTTP request and counts it under its route template
    (``/files/{entity}/{project}/{run}/file_stream``, never the raw path, so the number of
    series stays bounded)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        answered: float | None = None

        async def sending(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = int(message["status"])
                answered = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or _UNMATCHED
            elapsed = (answered or time.perf_counter()) - start
            self.metrics.observe(name, str(scope.get("method", "")), status, elapsed)
