"""How the live tier packs history lines: a chunk is up to :data:`CHUNK_LINES` lines of one
run stored as one row.

A row per line made a 10,000-line file_stream request (what the SDK sends at ``finish()``)
10,000 index inserts before the server could answer; as chunks it is ten. A chunk keeps the
lines' text concatenated in ``data`` and, in ``layout``, four little-endian arrays of the
same length: line index, ``_step`` (0 where the line has none), end offset of the line's text
in ``data`` (in characters) and a has-step flag. Its row also carries the line range, the
line and stepped-line counts and the step range, so step-range reads pick chunks without
opening them.

The chunks of a run cover disjoint line ranges; a line written again replaces the earlier
one (the writer trims or drops the chunks it overlaps). Chunks never cross a multiple of
:data:`CHUNK_LINES` (a *slot*): requests smaller than a slot leave several chunks in it,
which the writer packs into one once the slot's last line is written, so a history page
reads one or two chunks however small the SDK's requests were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Lines per chunk: a 1,000-step history page reads about one chunk.
CHUNK_LINES = 1000
#: The largest step a chunk holds (its ``layout`` stores steps as int64); ingest validates
#: steps against it.
INT64_MAX = 2**63 - 1

_I8 = np.dtype("<i8")


@dataclass(frozen=True)
class Chunk:
    """Lines of one run, in line order."""

    lines: np.ndarray
    steps: np.ndarray
    has_step: np.ndarray
    ends: np.ndarray
    data: str

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def first_line(self) -> int:
        """The smallest line index."""
        return int(self.lines[0])

    @property
    def last_line(self) -> int:
        """The largest line index."""
        return int(self.lines[-1])

    def step_range(self) -> tuple[int, int | None, int | None]:
        """(lines with a step, smallest step, largest step)."""
        stepped = self.steps[self.has_step]
        if not len(stepped):
            return 0, None, None
        return len(stepped), int(stepped.min()), int(stepped.max())

    def texts(self, index: np.ndarray | None = None) -> list[str]:
        """The text of every line, or of the lines at positions ``index``."""
        ends = self.ends if index is None else self.ends[index]
        starts = self._starts() if index is None else self._starts()[index]
        data = self.data
        return [data[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]

    def select(self, keep: np.ndarray) -> Chunk:
        """The chunk of the lines where boolean ``keep`` is true."""
        index = np.flatnonzero(keep)
        texts = self.texts(index)
        return Chunk(lines=self.lines[index], steps=self.steps[index],
                     has_step=self.has_step[index],
                     ends=np.cumsum(np.fromiter(map(len, texts), _I8, len(texts)), dtype=_I8),
                     data="".join(texts))

    def layout(self) -> bytes:
        """The ``layout`` column."""
        return b"".join((self.lines.astype(_I8).tobytes(), self.steps.astype(_I8).tobytes(),
                         self.ends.astype(_I8).tobytes(),
                         self.has_step.astype(np.uint8).tobytes()))

    def _starts(self) -> np.ndarray:
        starts = np.empty_like(self.ends)
        if len(starts):
            starts[0] = 0
            starts[1:] = self.ends[:-1]
        return starts


def decode(layout: bytes, data: str = "") -> Chunk:
    """The chunk stored as ``layout`` and ``data`` (``data`` may be left out when only the
    line indexes and steps are wanted)."""
    n = len(layout) // 25
    lines = np.frombuffer(layout, _I8, n, 0)
    steps = np.frombuffer(layout, _I8, n, 8 * n)
    ends = np.frombuffer(layout, _I8, n, 16 * n)
    has_step = np.frombuffer(layout, np.uint8, n, 24 * n).astype(bool)
    return Chunk(lines=lines, steps=steps, has_step=has_step, ends=ends, data=data)


def slot_start(line: int) -> int:
    """The first line of the slot ``line`` is in."""
    return line - line % CHUNK_LINES


def build(offset: int, steps: Sequence[int | None], texts: Sequence[str]) -> list[Chunk]:
    """Chunks of consecutive lines from ``offset`` with these steps and texts, split where
    a slot ends."""
    out: list[Chunk] = []
    if not texts:
        return out
    cuts = [0, *range(slot_start(offset) + CHUNK_LINES - offset, len(texts), CHUNK_LINES)]
    for start, stop in zip(cuts, [*cuts[1:], len(texts)], strict=True):
        part = texts[start:stop]
        part_steps = steps[start:stop]
        n = len(part)
        if None in part_steps:
            has = np.fromiter((s is not None for s in part_steps), bool, n)
            values = np.fromiter((0 if s is None else s for s in part_steps), _I8, n)
        else:
            has = np.ones(n, dtype=bool)
            values = np.fromiter(part_steps, _I8, n)
        data = "".join(part)
        if "\x00" in data:
            # PostgreSQL text cannot hold NUL; U+FFFD is one character too, so ends hold.
            data = data.replace("\x00", "\ufffd")
        out.append(Chunk(
            lines=np.arange(offset + start, offset + start + n, dtype=_I8), steps=values,
            has_step=has, ends=np.cumsum(np.fromiter(map(len, part), _I8, n), dtype=_I8),
            data=data))
    return out


def concat(parts: Sequence[Chunk]) -> Chunk:
    """One chunk of ``parts``, which hold disjoint line ranges in increasing order."""
    offsets = np.cumsum([0, *(len(p.data) for p in parts[:-1])], dtype=np.int64)
    return Chunk(lines=np.concatenate([p.lines for p in parts]),
                 steps=np.concatenate([p.steps for p in parts]),
                 has_step=np.concatenate([p.has_step for p in parts]),
                 ends=np.concatenate([p.ends + o for p, o in zip(parts, offsets, strict=True)]),
                 data="".join(p.data for p in parts))
