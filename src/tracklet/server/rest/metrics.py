"""GET /metrics: this process's Prometheus metrics (server/metrics.py), for admins.

Why admin: the counts name every route and how much each tenant's traffic weighs, which is
the operator's business, not every user's. A scraper sends an admin user's key as a bearer
token (Prometheus: ``authorization: {credentials_file: ...}``).
"""

from __future__ import annotations

import time

from anyio import to_thread
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from tracklet.errors import PermissionDenied
from tracklet.server.access import request_user
from tracklet.server.state import AppState
from tracklet.storage.metadata.tables import history_compaction

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: Request) -> Response:
    """The text exposition format of this process's counters and current gauges."""
    if not request_user(request).admin:
        raise PermissionDenied("/metrics is for admin users")
    state: AppState = request.app.state.tracklet
    gauges = await to_thread.run_sync(_gauges, state)
    return Response(state.metrics.render(gauges, state.storage.blob_errors()),
                    media_type=CONTENT_TYPE)


def _gauges(state: AppState) -> list[tuple[str, str, float]]:
    with state.storage.db.read() as conn:
        backlog, oldest = conn.execute(select(
            func.count(), func.min(history_compaction.c.requested_at))).one()
    pool = state.storage.db.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    out = [
        ("tracklet_ingest_queue_requests", "file_stream requests waiting for the writer.",
         float(state.writer.pending)),
        ("tracklet_compaction_backlog_runs", "Runs queued for history compaction.",
         float(backlog)),
        ("tracklet_compaction_lag_seconds",
         "Age of the oldest queued compaction request (0 when none waits).",
         max(0.0, time.time() - float(oldest)) if oldest is not None else 0.0),
    ]
    if callable(checked_out):
        out.append(("tracklet_db_pool_connections_in_use",
                    "Database connections checked out of this process's pool.",
                    float(checked_out())))
    return out
