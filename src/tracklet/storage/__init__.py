"""Persistence: metadata DB (SQLite/PostgreSQL), blob store (disk/S3/memory) and history tiers."""

from tracklet.storage.facade import Storage

__all__ = ["Storage"]
