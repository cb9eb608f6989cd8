"""Helpers for testing against a real tracklet server (a launcher) and the oracles tests and
benchmarks share (:mod:`.series_oracle`).

:func:`start_server` runs ``python -m tracklet server`` as a subprocess on a free port with
its own data dir and waits until ``/ready`` answers; :func:`launch` does the same for any
other HTTP server command (a stand-in responder, a peer tracker). The test suite's e2e tests
and the benchmarks both start their servers through here, so a server that exits early or
never becomes ready fails the same way everywhere: with its log in the exception.
"""

from tracklet.testing.server import (
    DEFAULT_KEY,
    ServerFailed,
    ServerProcess,
    TrackletServer,
    free_port,
    launch,
    start_server,
)

__all__ = [
    "DEFAULT_KEY",
    "ServerFailed",
    "ServerProcess",
    "TrackletServer",
    "free_port",
    "launch",
    "start_server",
]
