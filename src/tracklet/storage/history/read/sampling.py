"""Down-sampling history without hiding extremes.

:func:`sample_rows` picks at most ``samples`` rows, evenly spaced over the rows that qualify
(those holding every requested key), and always keeps, for each key, the row of its first
and last value and of its smallest and largest finite number. Those kept points come first:
when there are more of them than ``samples`` (many keys, few samples), they are all
returned. The input is read twice as a stream, so memory stays proportional to the answer.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tracklet.storage.history.rows import Row


class _Extremes:
    __slots__ = ("first", "last", "max_i", "max_v", "min_i", "min_v")

    def __init__(self, i: int) -> None:
        self.first = self.last = i
        self.min_i = self.max_i = -1
        self.min_v = self.max_v = 0.0

    def see(self, i: int, value: Any) -> None:
        self.last = i
        if type(value) in (int, float) and math.isfinite(value):
            if self.min_i < 0 or value < self.min_v:
                self.min_i, self.min_v = i, value
            if self.max_i < 0 or value > self.max_v:
                self.max_i, self.max_v = i, value

    def indices(self) -> Iterator[int]:
        yield self.first
        yield self.last
        if self.min_i >= 0:
            yield self.min_i
            yield self.max_i


def evenly_spaced(n: int, m: int) -> list[int]:
    """``m`` indices spread over ``range(n)`` including both ends (fewer when n < m)."""
    if n <= 0 or m <= 0:
        return []
    if m == 1:
        return [0]
    if m >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / (m - 1)) for i in range(m)})


def sample_rows(
    rows: Callable[[], Iterable[Row]],
    samples: int,
    keys: Sequence[str] | None = None,
    fetch: Callable[[list[int]], Iterable[Row]] | None = None,
) -> list[Row]:
    """At most ``samples`` qualifying rows of ``rows()`` plus every key's extremes.

    With ``keys`` only rows holding all of them qualify, and extremes are tracked for those
    keys; without, every row qualifies and every key's extremes are kept. ``rows()`` is read
    once to choose; the chosen rows are then read again, through ``fetch(steps)`` when
    given (rows at those steps, in step order), else by reading ``rows()`` a second time.
    """
    wanted = list(dict.fromkeys(keys)) if keys else None
    extremes: dict[str, _Extremes] = {}
    kept: list[Row] = []
    steps = array("q")
    n = 0
    for row in rows():
        data = row.data
        if wanted is not None:
            if not all(k in data for k in wanted):
                continue
            items: Iterable[tuple[str, Any]] = ((k, data[k]) for k in wanted)
        else:
            items = data.items()
        for key, value in items:
            ext = extremes.get(key)
            if ext is None:
                ext = extremes[key] = _Extremes(n)
            ext.see(n, value)
        if n < samples:
            kept.append(row)
        steps.append(row.step)
        n += 1
    if n <= samples:
        return kept
    mandatory: set[int] = {0, n - 1}
    for ext in extremes.values():
        mandatory.update(ext.indices())
    chosen = mandatory | set(evenly_spaced(n, max(samples - len(mandatory), 0)))
    del kept
    if fetch is not None:
        picked = sorted({steps[i] for i in chosen})
        return [row for row in fetch(picked)
                if wanted is None or all(k in row.data for k in wanted)]
    out: list[Row] = []
    i = 0
    for row in rows():
        if wanted is not None and not all(k in row.data for k in wanted):
            continue
        if i in chosen:
            out.append(row)
        i += 1
    return out


def project(row: Row, keys: Sequence[str]) -> dict[str, Any]:
    """The row's values for ``keys`` (each at most once), as an object."""
    data = row.data
    return {k: data[k] for k in dict.fromkeys(keys) if k in data}
