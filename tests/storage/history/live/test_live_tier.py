"""The chunked live history tier against a plain model (a dict of line -> text), on every
metadata backend: any sequence of writes (retries, overlaps, rewrites, lines without a step,
chunks of 1 to 1,000 lines) reads back exactly as the model says, in line order and in
(step, line) order, and removing lines removes exactly those lines."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history.live import chunks
from tracklet.storage.history.live import write as live_write
from tracklet.storage.history.live.read import (
    count_rows,
    first_steps,
    history_counts,
    history_lines,
    history_tail,
    iter_history_lines,
    iter_rows,
    live_steps,
    rows_at_steps,
    step_stats,
    top_line,
)
from tracklet.storage.history.live.write import HistoryWrites, remove_lines, step_of, write_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import history_chunks

_text = st.one_of(
    st.builds(lambda s, v: orjson.dumps({"_step": s, "v": v, "u": "é\u2603"}).decode(),
              st.integers(-3, 40), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda s: f'{{"_step": {s}, "x": NaN}}', st.sampled_from([2**62, -(2**63)])),
    st.sampled_from(['{"v": 1}', "[1, 2]", "7", '{"_step": "3"}']),
)
_names = itertools.count()
_write = st.tuples(st.integers(0, 60), st.lists(_text, min_size=0, max_size=25))


def _new_run(storage: Storage, name: str) -> int:
    with storage.db.write() as conn:
        entity = accounts.ensure_entity(conn, "alice")
        project: Project = accounts.ensure_project(conn, entity, "p")
        return run_repo.create_run(conn, project, name, None, RunFields()).id


def _stepped(model: dict[int, str], lo: int | None = None,
             hi: int | None = None) -> list[tuple[int, int, str]]:
    return sorted((step, line, text) for line, text in model.items()
                  if (step := step_of(text)) is not None
                  and (lo is None or step >= lo) and (hi is None or step < hi))


def _check(conn: Any, run_id: int, model: dict[int, str]) -> None:
    ordered = [model[k] for k in sorted(model)]
    assert history_lines(conn, run_id) == ordered
    assert list(iter_history_lines(conn, run_id)) == ordered
    assert history_tail(conn, run_id, 3) == ordered[-3:]
    assert history_counts(conn, [run_id]).get(run_id, 0) == len(model)
    assert top_line(conn, run_id) == max(model, default=-1)
    rows = _stepped(model)
    assert list(iter_rows(conn, run_id, batch=4)) == rows
    for limit in (1, 2, 5, len(rows) + 1):
        assert first_steps(conn, run_id, limit) == [r[0] for r in rows][:limit]
    assert step_stats(conn, run_id) == (
        len(rows), min((r[0] for r in rows), default=None),
        max((r[0] for r in rows), default=None))
    for lo, hi in ((0, 10), (5, 6), (-3, 1), (30, None), (None, 2**62), (None, 2**64),
                   (-(2**64), 3), (2**63, None)):
        part = _stepped(model, lo, hi)
        assert list(iter_rows(conn, run_id, lo, hi, batch=3)) == part
        assert count_rows(conn, run_id, lo, hi) == len(part)
        assert live_steps(conn, run_id, lo, hi) == {r[0] for r in part}
    wanted = [0, 7, 8, 39, 2**62, 2**63 - 1]
    assert list(rows_at_steps(conn, run_id, wanted)) == [r for r in rows
                                                              if r[0] in wanted]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(_write, min_size=1, max_size=8),
       chunk_lines=st.sampled_from([1, 3, 7, 1000]), pack_min=st.sampled_from([2, 16]),
       drop=st.lists(st.integers(0, 90), max_size=6), above=st.sampled_from([None, 5, 20]))
def test_live_tier_matches_model(storage: Storage, writes: list[tuple[int, list[str]]],
                                 chunk_lines: int, pack_min: int, drop: list[int],
                                 above: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "CHUNK_LINES", chunk_lines)
    monkeypatch.setattr(live_write, "PACK_MIN_CHUNKS", pack_min)
    run_id = _new_run(storage, f"r{next(_names)}")
    model: dict[int, str] = {}
    with storage.db.write() as conn:
        for offset, texts in writes:
            write_history(conn, run_id, StreamChunk(offset, tuple(texts)))
            model.update((offset + i, t) for i, t in enumerate(texts))
    with storage.db.read() as conn:
        _check(conn, run_id, model)
    # Compaction's removal: listed lines, and stepped lines above a step up to a line.
    through = 50
    start: int | None = 0
    while start is not None:
        with storage.db.write() as conn:
            start = remove_lines(conn, run_id, through_line=through, start=start,
                                      drop_stepped=True, above_step=above, lines=drop,
                                      max_lines=7)
    model = {line: text for line, text in model.items()
             if line > through or not (line in drop or (
                 (step := step_of(text)) is not None and (above is None or step > above)))}
    with storage.db.read() as conn:
        _check(conn, run_id, model)


def test_ingest_batch_overwrites_in_request_order(storage: Storage) -> None:
    """Requests of one group commit land in order: a retry in the same batch wins over the
    earlier lines it overlaps, and lines after it stay."""
    run_id = _new_run(storage, "batch")
    first = tuple(orjson.dumps({"_step": i, "v": "a"}).decode() for i in range(30))
    retry = tuple(orjson.dumps({"_step": i, "v": "b"}).decode() for i in range(10, 15))
    writes = HistoryWrites()
    assert writes.add(run_id, StreamChunk(0, first), known_end=0) == (30, 29)
    assert writes.add(run_id, StreamChunk(10, retry), known_end=30) == (15, 14)
    with storage.db.write() as conn:
        writes.flush(conn)
    with storage.db.read() as conn:
        assert history_lines(conn, run_id) == [*first[:10], *retry, *first[15:]]


def test_small_requests_are_packed_once_their_slot_is_full(
        storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests smaller than a chunk (the SDK's every few seconds) leave small chunks until
    a slot's last line arrives; then a slot of PACK_MIN_CHUNKS or more chunks becomes one,
    in batches and across them."""
    monkeypatch.setattr(chunks, "CHUNK_LINES", 10)
    monkeypatch.setattr(live_write, "PACK_MIN_CHUNKS", 4)
    run_id = _new_run(storage, "packed")
    texts = [orjson.dumps({"_step": i, "v": i * 0.5}).decode() for i in range(47)]
    end = 0
    for sizes in ([3, 4], [2], [1, 5, 5], [2, 2, 2, 2, 2], [9], [8]):
        writes = HistoryWrites()
        for n in sizes:
            writes.add(run_id, StreamChunk(end, tuple(texts[end:end + n])), known_end=end)
            end += n
        with storage.db.write() as conn:
            writes.flush(conn)
    assert end == 47
    with storage.db.read() as conn:
        firsts = conn.execute(
            select(history_chunks.c.first_line, history_chunks.c.line_count)
            .where(history_chunks.c.run_id == run_id).order_by(history_chunks.c.first_line)
        ).all()
        assert [tuple(r) for r in firsts] == [(0, 10), (10, 5), (15, 5), (20, 10), (30, 9),
                                              (39, 1), (40, 7)]
        _check(conn, run_id, dict(enumerate(texts)))
