"""Tracker adapters: wandb, the tracklet client, a no-op JSONL log, behind one interface
(:class:`TrackerAdapter`).

Importing this package imports no backend: ``wandb`` is imported when a
:class:`WandbAdapter` is built.
"""

from tracklet.trackers.base import (
    RunHandle,
    RunRecord,
    TrackerAdapter,
    TrackerBinding,
    TrackerInitError,
)
from tracklet.trackers.noop import NoopAdapter
from tracklet.trackers.offline import (
    OfflineRun,
    SyncResult,
    find_offline_runs,
    sync_offline_runs,
)
from tracklet.trackers.tracklet_adapter import TrackletAdapter
from tracklet.trackers.wandb_adapter import WandbAdapter

__all__ = [
    "NoopAdapter",
    "OfflineRun",
    "RunHandle",
    "RunRecord",
    "SyncResult",
    "TrackerAdapter",
    "TrackerBinding",
    "TrackerInitError",
    "TrackletAdapter",
    "WandbAdapter",
    "find_offline_runs",
    "sync_offline_runs",
]
