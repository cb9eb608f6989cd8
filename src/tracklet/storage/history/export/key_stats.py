"""What an export knows about each key without reading its file: counts per type, the step
range, the finite extremes and the steps of explicit nulls, written with the export."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracklet.storage.history.rows import type_name

MAX_NULL_STEPS = 10_000
#: Integers a ``double`` column records by step; a key with more is stored as JSON text.
MAX_INT_STEPS = 10_000


@dataclass
class KeyStats:
    """What an export knows about one key without reading the file."""

    count: int = 0
    numbers: int = 0
    other_types: Counter[str] = field(default_factory=Counter)
    first_step: int | None = None
    last_step: int | None = None
    min: tuple[float, int] | None = None
    max: tuple[float, int] | None = None
    null_steps: list[int] = field(default_factory=list)
    nulls_truncated: bool = False
    #: Steps whose value is an integer in a column stored as ``double``.
    int_steps: list[int] = field(default_factory=list)
    #: The value at the last step, when it is a plain scalar (``historyKeys``'
    #: ``previousValue``); ``has_last`` says whether there is one.
    last: Any = None
    has_last: bool = False
    #: Per nested key, for a key logged as a plain dict (``{"d": {"k": 1}}`` is ``d.k``).
    children: dict[str, KeyStats] = field(default_factory=dict)

    @property
    def types(self) -> Counter[str]:
        """Values per type name (see :func:`type_name`)."""
        counts = Counter(self.other_types)
        if self.numbers:
            counts["number"] += self.numbers
        return counts

    def add(self, step: int, value: Any) -> None:
        """Account for ``value`` logged at ``step`` (rows arrive in step order)."""
        self.count += 1
        if self.first_step is None:
            self.first_step = step
        self.last_step = step
        kind = type(value)
        self._remember(value)
        if kind is dict and not isinstance(value.get("_type"), str):
            for key, item in value.items():
                child = self.children.get(key)
                if child is None:
                    child = self.children[key] = KeyStats()
                child.add(step, item)
        if kind is float or kind is int:
            self.numbers += 1
            if value - value == 0:  # finite: NaN - NaN and inf - inf are NaN
                if self.min is None or value < self.min[0]:
                    self.min = (value, step)
                if self.max is None or value > self.max[0]:
                    self.max = (value, step)
            return
        self.other_types[type_name(value)] += 1
        if value is None:
            if len(self.null_steps) < MAX_NULL_STEPS:
                self.null_steps.append(step)
            else:
                self.nulls_truncated = True

    def add_numbers(self, steps: Sequence[int], values: Sequence[int | float]) -> None:
        """:meth:`add` for each pair, when every value is an int or a float and every int
        fits an int64, or fits 2**53 when floats are among them."""
        n = len(values)
        if not n:
            return
        self.count += n
        self.numbers += n
        if self.first_step is None:
            self.first_step = steps[0]
        self.last_step = steps[-1]
        self._remember(values[-1])
        # int64 when every value is an int (they fit), float64 once a float is among them.
        array = np.asarray(values)
        finite = np.isfinite(array) if array.dtype.kind == "f" else None
        if finite is not None and not finite.all():
            if not finite.any():
                return
            low = int(np.where(finite, array, np.inf).argmin())
            high = int(np.where(finite, array, -np.inf).argmax())
        else:
            low, high = int(array.argmin()), int(array.argmax())
        # argmin/argmax give the first extreme, as add() keeps the first (strict < and >).
        if self.min is None or values[low] < self.min[0]:
            self.min = (values[low], steps[low])
        if self.max is None or values[high] > self.max[0]:
            self.max = (values[high], steps[high])

    def _remember(self, value: Any) -> None:
        if is_scalar(value):
            self.last, self.has_last = value, True
        else:
            self.last, self.has_last = None, False

    def flattened(self, key: str) -> Iterator[tuple[str, KeyStats]]:
        """``(key, self)`` and then every nested key's dotted path with its statistics."""
        yield key, self
        for name, child in self.children.items():
            yield from child.flattened(f"{key}.{name}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite values never occur in it)."""
        return {
            "count": self.count,
            "typeCounts": [{"type": t, "count": c} for t, c in self.types.most_common()],
            "firstStep": self.first_step,
            "lastStep": self.last_step,
            "min": list(self.min) if self.min else None,
            "max": list(self.max) if self.max else None,
            "nullSteps": self.null_steps,
            "nullsTruncated": self.nulls_truncated,
            **({"intSteps": self.int_steps} if self.int_steps else {}),
            **({"last": self.last} if self.has_last else {}),
            **({"children": {k: c.to_json() for k, c in self.children.items()}}
               if self.children else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyStats:
        """Inverse of :meth:`to_json`."""
        stats = cls(count=int(data.get("count", 0)))
        types = Counter({t["type"]: int(t["count"]) for t in data.get("typeCounts", [])})
        stats.numbers = types.pop("number", 0)
        stats.other_types = types
        stats.first_step = data.get("firstStep")
        stats.last_step = data.get("lastStep")
        stats.min = (data["min"][0], data["min"][1]) if data.get("min") else None
        stats.max = (data["max"][0], data["max"][1]) if data.get("max") else None
        stats.null_steps = list(data.get("nullSteps", []))
        stats.nulls_truncated = bool(data.get("nullsTruncated", False))
        stats.int_steps = list(data.get("intSteps", []))
        if "last" in data:
            stats.last, stats.has_last = data["last"], True
        stats.children = {k: cls.from_json(v) for k, v in data.get("children", {}).items()}
        return stats


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is what ``historyKeys`` reports as a key's ``previousValue``: a
    finite number, a string or a boolean (W&B leaves it out for media, lists and nulls)."""
    kind = type(value)
    if kind is float:
        return bool(value - value == 0)
    return kind is int or kind is str or kind is bool
