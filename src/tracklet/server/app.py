"""The application factory: ``create_app(settings)``; resources live in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator

from anyio import to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware

from tracklet.config import Settings
from tracklet.errors import TrackletError
from tracklet.ingest.writer import GroupWriter
from tracklet.server.alert_delivery import alert_deliverer
from tracklet.server.auth import Authenticator
from tracklet.server.compression import ApiGZip
from tracklet.server.errors import tracklet_error_handler, unexpected_error_handler
from tracklet.server.graphql import build_schema
from tracklet.server.graphql.cost import QueryLimits
from tracklet.server.headers import SecurityHeaders
from tracklet.server.limits import ConcurrencyLimit
from tracklet.server.metrics import Metrics, RequestMetrics
from tracklet.server.rate_limits import SignInLimiter, UserConcurrency
from tracklet.server.routes import ROUTES
from tracklet.server.state import AppState
from tracklet.storage import Storage, blob_gc
from tracklet.storage.history import compaction
from tracklet.storage.metadata import runs as run_repo

log = logging.getLogger("tracklet.server")
#: How often the server checkpoints an SQLite WAL (a few MB a second at full ingest rate).
WAL_CHECKPOINT_INTERVAL_S = 1.0


def create_app(settings: Settings, storage: Storage | None = None, *,
               freeze_heap: bool = False) -> Starlette:
    """Build the ASGI app. Storage is opened (and migrated) at startup unless given.

    ``freeze_heap`` (the server process: :func:`tracklet.server.processes.serve`) moves
    every object alive once the app has started into the collector's permanent generation:
    the schema, the models and the modules are never garbage, yet each full collection
    walked them all, a pause of a few hundred milliseconds for whichever requests were in
    flight (``benchmarks.cost``). Not for apps built in a test process, where it would keep
    every earlier app's leftovers for good.
    """

    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = storage if storage is not None else await to_thread.run_sync(
            Storage.open, settings
        )
        secret = await to_thread.run_sync(store.signing_secret)
        state = AppState(settings=settings, storage=store, auth=Authenticator(store),
                         schema=build_schema(QueryLimits.from_settings(settings)),
                         writer=GroupWriter(store), signing_secret=secret,
                         sign_ins=SignInLimiter(store.db, settings.sign_in_attempts,
                                                settings.sign_in_window_s),
                         graphql_slots=UserConcurrency(
                             settings.graphql_max_concurrent_per_user),
                         metrics=metrics)
        app.state.tracklet = state
        if freeze_heap:
            gc.collect()
            gc.freeze()
        tasks = [asyncio.create_task(_crash_sweeper(state))]
        if store.db.is_sqlite:
            tasks.append(asyncio.create_task(_wal_checkpointer(state)))
        if settings.history_compaction_interval_s > 0:
            tasks.append(asyncio.create_task(_history_compactor(state)))
        # Always: an entity may set a webhook of its own at any time (`tracklet alerts`).
        tasks.append(asyncio.create_task(alert_deliverer(store, settings)))
        if settings.blob_gc_interval_s > 0:
            tasks.append(asyncio.create_task(_blob_collector(state)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await to_thread.run_sync(state.writer.close)
            if storage is None:
                store.close()

    return Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        middleware=[
            # Outermost: every answer is counted, 429s and 500s included.
            Middleware(RequestMetrics, metrics=metrics),
            # The 429s of the limit and the 500s of errors get the headers too.
            Middleware(SecurityHeaders),
            Middleware(ConcurrencyLimit, limit=settings.max_concurrent_requests,
                       stream_limit=settings.max_concurrent_streams),
            Middleware(ApiGZip, minimum_size=4096),
        ],
        exception_handlers={TrackletError: tracklet_error_handler,
                            Exception: unexpected_error_handler},
    )


async def _crash_sweeper(state: AppState) -> None:
    """Mark runs crashed when their heartbeats stop; every server process may run this."""
    while True:
        await asyncio.sleep(state.settings.crash_check_interval_s)
        cutoff = time.time() - state.settings.heartbeat_timeout_s
        try:
            n = await to_thread.run_sync(_mark_crashed, state, cutoff)
            if n:
                log.info("marked %d silent run(s) crashed", n)
        except TrackletError as exc:
            log.warning("crash sweep skipped: %s", exc.message)


async def _wal_checkpointer(state: AppState) -> None:
    """Checkpoint SQLite's WAL in the background, off the path of any request's commit."""
    while True:
        await asyncio.sleep(WAL_CHECKPOINT_INTERVAL_S)
        try:
            await to_thread.run_sync(state.storage.db.checkpoint)
        except TrackletError as exc:
            log.warning("WAL checkpoint skipped: %s", exc.message)
        except Exception:
            log.exception("WAL checkpoint failed")


async def _history_compactor(state: AppState) -> None:
    """Compact the history of ended runs, and checkpoints of long running ones, into
    Parquet exports (queued by ingest)."""
    pacer = compaction.CheckpointPacer()
    while True:
        await asyncio.sleep(state.settings.history_compaction_interval_s)
        try:
            await to_thread.run_sync(compaction.run_pending, state.storage, 10, pacer)
        except TrackletError as exc:
            log.warning("history compaction skipped: %s", exc.message)
        except Exception:
            log.exception("history compaction failed")


async def _blob_collector(state: AppState) -> None:
    """Delete blobs nothing references any more (storage/blob_gc.py); every server process
    may run it, a second one finds nothing left to do."""
    settings = state.settings
    while True:
        await asyncio.sleep(settings.blob_gc_interval_s)
        try:
            report = await to_thread.run_sync(
                functools.partial(blob_gc.collect, state.storage, settings.blob_gc_grace_s))
            if report.collected:
                log.info("blob gc: %d blobs (%d bytes) collected", report.collected,
                         report.collected_bytes)
        except TrackletError as exc:
            log.warning("blob gc skipped: %s", exc.message)
        except Exception:
            log.exception("blob gc failed")


def _mark_crashed(state: AppState, cutoff: float) -> int:
    with state.storage.db.write() as conn:
        return run_repo.mark_crashed(conn, cutoff)
