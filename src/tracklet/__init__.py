"""tracklet: a self-hosted experiment tracker that speaks the Weights & Biases protocol."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
