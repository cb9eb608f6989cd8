"""``historyKeys``: the last step and, per key, how many values of each type were logged.

The export's share comes from statistics written with it. The live tier's share is counted
from its rows, incrementally: the ``Storage`` (in ``Storage.memo``) remembers, per run, the
counts up to the last line it read, so asking again (``api.run()`` asks every time) only
reads new lines.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracklet.storage.history.export.format import STEP
from tracklet.storage.history.live.read import top_line
from tracklet.storage.history.live.stats import count_types

if TYPE_CHECKING:
    from tracklet.storage.history.read.tiers import RunHistory

_MEMO_KEY = "history.live_key_counts"
_MAX_RUNS = 256


@dataclass
class _Counts:
    generation: tuple[str, ...]
    through_line: int = -1
    keys: dict[str, Counter[str]] = field(default_factory=dict)


class LiveKeyCounts:
    """Per-run type counts of live rows, kept up to date by reading only new lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, _Counts] = {}

    def counts(self, view: RunHistory) -> dict[str, Counter[str]]:
        """Type counts per key over the live rows of ``view``'s run."""
        generation = tuple(e.blob_key for e in view.exports)
        with self._lock:
            cached = self._runs.get(view.run_id)
        if cached is None or cached.generation != generation:
            cached = _Counts(generation)
        merged = {k: Counter(v) for k, v in cached.keys.items()}
        through = max(cached.through_line, top_line(view.conn, view.run_id))
        if through > cached.through_line:
            new = count_types(view.conn, view.run_id, cached.through_line, through)
            for key, counts in new.items():
                merged.setdefault(key, Counter()).update(counts)
        with self._lock:
            if len(self._runs) >= _MAX_RUNS and view.run_id not in self._runs:
                self._runs.pop(next(iter(self._runs)))
            self._runs[view.run_id] = _Counts(generation, through, merged)
        return merged

    def forget(self, run_id: int) -> None:
        """Drop what is remembered about ``run_id``."""
        with self._lock:
            self._runs.pop(run_id, None)


def live_key_counts(memo: dict[str, Any]) -> LiveKeyCounts:
    """The process-wide counter kept in ``Storage.memo``."""
    counter = memo.get(_MEMO_KEY)
    if counter is None:
        counter = memo.setdefault(_MEMO_KEY, LiveKeyCounts())
    assert isinstance(counter, LiveKeyCounts)
    return counter


def history_keys(view: RunHistory) -> dict[str, Any]:
    """The ``historyKeys`` object of the run: ``{"lastStep": n, "keys": {...}}``.

    ``lastStep`` is left out for an empty history: the SDK reads it with a default of -1.
    """
    totals: dict[str, Counter[str]] = {}
    for export in view.exports:
        for key, stats in export.stats().items():
            totals.setdefault(key, Counter()).update(stats.types)
    if view.has_live:
        for key, counts in live_key_counts(view.storage.memo).counts(view).items():
            totals.setdefault(key, Counter()).update(counts)
    out: dict[str, Any] = {
        "keys": {
            key: {"typeCounts": [{"type": t, "count": c} for t, c in counts.most_common()]}
            for key, counts in sorted(totals.items(), key=lambda kv: (kv[0] != STEP, kv[0]))
        }
    }
    last = view.last_step()
    if last is not None:
        out["lastStep"] = last
    return out
