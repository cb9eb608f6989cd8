"""tracklet: a self-hosted experiment tracker that speaks the Weights & Biases protocol."""

from __future__ import annotations

from tracklet.sql_client import QueryError, TruncatedWarning, query

__version__ = "0.1.0"

__all__ = ["QueryError", "TruncatedWarning", "__version__", "query"]
