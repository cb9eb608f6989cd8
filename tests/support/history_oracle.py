"""A plain model of W&B's run history semantics, the oracle every history read is held to.

A run's history is the file ``wandb-history.jsonl`` the SDK streams: line ``i`` is the JSON
object logged ``i``-th (``{"_step": 3, "loss": 0.5, ...}``; NaN and Infinity as bare tokens,
integers of any size). A file_stream request writes ``content`` at ``offset``, so sending a
line again replaces it. A history *row* is a line that parses to an object with an integral
``_step``; rows are ordered by step (then line).

What each read answers for the same lines, whatever tier the rows sit in:

* ``history(minStep, maxStep, samples)`` (the SDK's HistoryPage) and ``scan_history()``
  without keys: every row with ``minStep <= _step < maxStep``, each with exactly the keys it
  was logged with (a key not logged at a step is absent, not ``None``).
* ``sampledHistory`` (SampledHistoryPage) and ``scan_history(keys=K)``: the rows in range
  that hold *every* key of K (an explicitly logged ``null`` counts as logged), reduced to K
  (``scan_history`` adds ``_step``). These rows travel as strict JSON (a GraphQL ``JSON``
  value the SDK's Go core parses with encoding/json), so a non-finite float anywhere in them
  comes as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, as W&B sends it
  (:func:`strict`).
* ``GET /api/v1/runs/history?keys=K``: the rows in range holding a non-null value of *at
  least one* key of K, as ``[_step, value or None per key]`` (its columns are nullable, so a
  logged ``null`` reads as not logged there).

Values come back as logged: an int stays an int (however large), a float a float, NaN is NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def parse_line(text: str) -> dict[str, Any] | None:
    """A history line as the SDK's reader would parse it; None when it is not an object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def step_of(row: dict[str, Any]) -> int | None:
    """The row's ``_step`` when it is an integer that fits 64 bits (else not a row)."""
    step = row.get("_step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return None
    if isinstance(step, float) and not step.is_integer():
        return None
    value = int(step)
    return value if -(2**63) <= value < 2**63 else None


@dataclass
class LoggedHistory:
    """The history lines a run's client sent, by line index."""

    lines: dict[int, str] = field(default_factory=dict)

    def write(self, offset: int, content: Sequence[str]) -> None:
        """What one file_stream request does: line ``offset + i`` becomes ``content[i]``."""
        for i, text in enumerate(content):
            self.lines[offset + i] = text

    @property
    def line_count(self) -> int:
        """The next offset a client appends at."""
        return max(self.lines, default=-1) + 1

    def rows(self) -> list[dict[str, Any]]:
        """Every row, in (step, line) order."""
        keyed = []
        for line, text in self.lines.items():
            row = parse_line(text)
            if row is None:
                continue
            step = step_of(row)
            if step is not None:
                keyed.append((step, line, row))
        keyed.sort(key=lambda t: (t[0], t[1]))
        return [row for _, _, row in keyed]

    def steps(self) -> list[int]:
        """Every row's step, in order."""
        return [step_of(r) for r in self.rows()]  # type: ignore[misc]

    def last_step(self) -> int | None:
        """The largest step (``lastHistoryStep``), None for an empty history."""
        steps = self.steps()
        return steps[-1] if steps else None


def in_range(rows: Iterable[dict[str, Any]], lo: int | None,
             hi: int | None) -> list[dict[str, Any]]:
    """Rows with ``lo <= _step < hi`` (a missing bound is open)."""
    return [r for r in rows if (lo is None or step_of(r) >= lo)  # type: ignore[operator]
            and (hi is None or step_of(r) < hi)]  # type: ignore[operator]


def history_page(rows: Sequence[dict[str, Any]], lo: int | None,
                 hi: int | None) -> list[dict[str, Any]]:
    """``history(minStep=lo, maxStep=hi)`` with samples to spare: whole rows."""
    return in_range(rows, lo, hi)


def keyed_rows(rows: Sequence[dict[str, Any]], keys: Sequence[str], lo: int | None,
               hi: int | None) -> list[dict[str, Any]]:
    """``sampledHistory`` / ``scan_history(keys=...)``: rows holding every key, reduced."""
    wanted = list(dict.fromkeys(keys))
    return [{k: r[k] for k in wanted} for r in in_range(rows, lo, hi)
            if all(k in r for k in wanted)]


def strict(value: Any) -> Any:
    """``value`` as strict JSON carries it: non-finite floats as their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return value


def sampled(rows: Sequence[dict[str, Any]], keys: Sequence[str], lo: int | None,
            hi: int | None) -> list[dict[str, Any]]:
    """``sampledHistory`` with samples to spare: :func:`keyed_rows` as strict JSON."""
    return [strict(r) for r in keyed_rows(rows, keys, lo, hi)]


def scan(rows: Sequence[dict[str, Any]], keys: Sequence[str] | None, lo: int,
         hi: int) -> list[dict[str, Any]]:
    """``scan_history(keys, min_step=lo, max_step=hi)``."""
    if not keys:
        return history_page(rows, lo, hi)
    return sampled(rows, ["_step", *keys], lo, hi)


def columns(rows: Sequence[dict[str, Any]], keys: Sequence[str], lo: int | None,
            hi: int | None) -> list[list[Any]]:
    """``/api/v1/runs/history``: ``[_step, *values]`` of rows with a value of any key."""
    return [[step_of(r), *(r.get(k) for k in keys)] for r in in_range(rows, lo, hi)
            if any(r.get(k) is not None for k in keys)]


def same(a: Any, b: Any, *, numbers_loose: bool = False) -> bool:
    """Equal as logged values: same JSON kind (an int is not a float, unless
    ``numbers_loose``: then an int equals the float nearest it, as a float64 column holds
    it), NaN equals NaN, containers element by element, dict keys as sets."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if numbers_loose and (type(a) is float or type(b) is float):
            return float(a) == float(b)  # a float64 column: the nearest double
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], numbers_loose=numbers_loose)
                                            for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, numbers_loose=numbers_loose)
                                        for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def first_difference(got: Sequence[Any], want: Sequence[Any], *,
                     numbers_loose: bool = False) -> str | None:
    """None when ``got`` equals ``want`` item by item, else where they differ first."""
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if not same(g, w, numbers_loose=numbers_loose):
            return f"item {i}: got {g!r}, want {w!r}"
    if len(got) != len(want):
        extra = got[len(want)] if len(got) > len(want) else want[len(got)]
        return f"got {len(got)} items, want {len(want)} (first unmatched: {extra!r})"
    return None
