"""``historyKeys``: the last step and, per key, how many values of each type were logged and
the last value (``previousValue``, for scalars). A key logged as a plain dict is listed with
its dotted nested keys as well (``dict.val1``), as W&B lists them.

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
    last: dict[str, Any] = field(default_factory=dict)


class LiveKeyCounts:
    """Per-run type counts of live rows, kept up to date by reading only new lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, _Counts] = {}

    def counts(self, view: RunHistory) -> dict[str, Counter[str]]:
        """Type counts per key over the live rows of ``view``'s run."""
        return self.keys(view)[0]

    def keys(self, view: RunHistory) -> tuple[dict[str, Counter[str]], dict[str, Any]]:
        """Type counts and last scalar values per key over the live rows of ``view``'s run."""
        generation = tuple(e.blob_key for e in view.exports)
        with self._lock:
            cached = self._runs.get(view.run_id)
        if cached is None or cached.generation != generation:
            cached = _Counts(generation)
        merged = {k: Counter(v) for k, v in cached.keys.items()}
        last = dict(cached.last)
        through = max(cached.through_line, top_line(view.conn, view.run_id))
        if through > cached.through_line:
            new = count_types(view.conn, view.run_id, cached.through_line, through)
            for key, counts in new.counts.items():
                merged.setdefault(key, Counter()).update(counts)
            for key in new.cleared:
                last.pop(key, None)
            last.update(new.last)
        with self._lock:
            if len(self._runs) >= _MAX_RUNS and view.run_id not in self._runs:
                self._runs.pop(next(iter(self._runs)))
            self._runs[view.run_id] = _Counts(generation, through, merged, last)
        return merged, last

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
    previous: dict[str, Any] = {}
    for export in view.exports:
        for top, top_stats in export.stats().items():
            for key, stats in top_stats.flattened(top):
                totals.setdefault(key, Counter()).update(stats.types)
                if stats.has_last:
                    previous[key] = stats.last
                else:
                    previous.pop(key, None)
    if view.has_live:
        counted, last = live_key_counts(view.storage.memo).keys(view)
        for key, counts in counted.items():
            totals.setdefault(key, Counter()).update(counts)
        # Live rows are newer than the exports (their steps follow the exported ones).
        previous.update(last)
    out: dict[str, Any] = {"keys": {}}
    for key, counts in sorted(totals.items(), key=lambda kv: (kv[0] != STEP, kv[0])):
        entry: dict[str, Any] = {
            "typeCounts": [{"type": t, "count": c} for t, c in counts.most_common()]}
        if key in previous and key != STEP:
            entry["previousValue"] = previous[key]
        out["keys"][key] = entry
    last_step = view.last_step()
    if last_step is not None:
        out["lastStep"] = last_step
    return out
