"""tracklet: a self-hosted experiment tracker that speaks the Weights & Biases protocol.

The package itself is the light client (``tracklet.init``, ``tracklet.log`` ...); the
server lives in subpackages that importing ``tracklet`` does not load.
"""

from __future__ import annotations

from tracklet.client import (
    Config,
    Run,
    RunError,
    Summary,
    Tensor,
    alert,
    current_run,
    finish,
    init,
    load_tensor,
    log,
    log_artifact,
    use_artifact,
)
from tracklet.sql_client import QueryError, TruncatedWarning, query

__version__ = "0.1.0"

__all__ = [
    "Config",
    "QueryError",
    "Run",
    "RunError",
    "Summary",
    "Tensor",
    "TruncatedWarning",
    "__version__",
    "alert",
    "current_run",
    "finish",
    "init",
    "load_tensor",
    "log",
    "log_artifact",
    "query",
    "use_artifact",
]
