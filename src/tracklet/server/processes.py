"""Serving with several worker processes on one port.

The parent binds the socket and supervises (uvicorn's ``Multiprocess``: a dead worker is
replaced, SIGINT/SIGTERM stop them all); each worker builds the app from the same
:class:`~tracklet.config.Settings`, handed over pickled (``create_app`` with the settings
bound), never through environment variables.

On PostgreSQL the workers are as independent as separate servers. On SQLite they share the
database file the way separate processes do: each write transaction starts with
``BEGIN IMMEDIATE``, so SQLite's file lock admits one writer at a time across processes and
the others wait up to ``db_busy_timeout_s`` (then 503 + Retry-After); in WAL mode readers
never wait. That needs a local disk (SQLite's locks are unreliable on network filesystems).
Background work (compaction, crash sweeps, blob GC) runs in every worker; each step claims
its rows in the database, so two workers never do the same one.
"""

from __future__ import annotations

import functools
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from tracklet.config import Settings
from tracklet.server.app import create_app


def serve(settings: Settings, workers: int, **options: Any) -> None:
    """Run the server: in this process when ``workers`` is 1, else ``workers`` processes
    sharing one listening socket. ``options`` are uvicorn's (host, port, log_level, ...)."""
    if workers == 1:
        uvicorn.run(create_app(settings, freeze_heap=True), **options)
        return
    config = uvicorn.Config(functools.partial(create_app, settings, freeze_heap=True),
                            factory=True,
                            workers=workers, **options)
    socket = config.bind_socket()
    try:
        Multiprocess(config, sockets=[socket]).run()
    finally:
        socket.close()
