"""The two history tiers: live rows, compaction to immutable Parquet parts, merged reads,
key statistics, sampling that keeps extremes, and the compaction queue."""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
import pytest

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.live.read import fingerprint
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.keys import history_keys
from tracklet.storage.history.read.sampling import evenly_spaced, sample_rows
from tracklet.storage.history.read.tiers import (
    RunHistory,
    begin_snapshot,
    many_histories,
    open_history,
)
from tracklet.storage.history.rows import Row, dumps_row, same_json
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.strict_json import strict_json_text
from tracklet.storage.run_deletion import delete_run


@pytest.fixture
def storage_blobs() -> str:
    """Blobs in a local folder: compaction writes real files, and reads of exports then go
    through the file in place (``BlobStore.local_path``) rather than the download cache."""
    return "local"


def _new_run(storage: Storage, project: Project, name: str = "r") -> int:
    with storage.db.write() as conn:
        return run_repo.create_run(conn, project, name, None, RunFields()).id


def _log(storage: Storage, run_id: int, rows: list[dict[str, Any]], offset: int) -> None:
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(offset, tuple(dumps_row(r) for r in rows)))


def _set_state(storage: Storage, run_id: int, state: str) -> None:
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, run_id, state=state)


def _read(storage: Storage, run_id: int, **kw: Any) -> list[dict[str, Any]]:
    with open_history(storage, run_id) as view:
        return [r.data for r in view.rows(**kw)]


def _rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"_step": s, "loss": 1.0 / (s + 1), "acc": s % 7} for s in range(start, stop)]


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))


def test_compaction_moves_rows_to_an_immutable_part(storage: Storage, project: Project) -> None:
    run = _new_run(storage, project)
    rows = _rows(0, 500)
    _log(storage, run, rows, 0)
    assert compaction.compact_now(storage, run)  # still running: nothing to do
    with open_history(storage, run) as view:
        assert view.exports == [] and view.live_count == 500
    _set_state(storage, run, "finished")
    assert compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert view.fully_exported and view.live_count == 0 and len(view.exports) == 1
        part = view.exports[0]
        assert storage.blobs.exists(part.blob_key)
        assert view.last_step() == 499 and view.first_step() == 0
        assert [orjson.loads(t) for t in view.tail(3)] == rows[-3:]
    assert _same(_read(storage, run), rows)
    assert _same(_read(storage, run, min_step=100, max_step=103), rows[100:103])

    # Resumed, then ended again: a second part after the first, which never changes.
    _set_state(storage, run, "running")
    more = _rows(500, 540)
    _log(storage, run, more, 500)
    with open_history(storage, run) as view:
        assert not view.fully_exported and view.has_live
    assert _same(_read(storage, run), rows + more)
    _set_state(storage, run, "failed")
    assert compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert view.fully_exported and view.exports[0].blob_key == part.blob_key
        assert [e.part for e in view.exports] == [0, 1]
        assert [(e.min_step, e.max_step) for e in view.exports] == [(0, 499), (500, 539)]
    assert _same(_read(storage, run), rows + more)


def test_resent_and_rewritten_rows(storage: Storage, project: Project) -> None:
    run = _new_run(storage, project)
    rows = _rows(0, 100)
    _log(storage, run, rows, 0)
    _set_state(storage, run, "finished")
    compaction.compact_now(storage, run)

    # A re-sync sends the same lines again: they are dropped as redundant.
    _log(storage, run, rows[10:20], 10)
    assert _same(_read(storage, run), rows)
    compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert view.fully_exported and len(view.exports) == 1

    # A rewrite with other values stays live and wins over the exported row.
    changed = {**rows[42], "loss": -1.0}
    _log(storage, run, [changed], 42)
    expected = [*rows[:42], changed, *rows[43:]]
    assert _same(_read(storage, run), expected)
    compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert view.live_count == 1 and not view.fully_exported and len(view.exports) == 1
        assert [r.data["loss"] for r in view.rows_at([41, 42])] == [rows[41]["loss"], -1.0]
    assert _same(_read(storage, run), expected)


def test_compaction_gives_way_to_concurrent_writes(storage: Storage,
                                                   project: Project) -> None:
    run = _new_run(storage, project)
    _log(storage, run, _rows(0, 50), 0)
    _set_state(storage, run, "finished")
    with storage.db.read() as conn:
        stale = fingerprint(conn, run)
        token = compaction_queue.token(conn, run)
    _log(storage, run, _rows(50, 51), 50)  # a row arrives after the snapshot
    plan = compaction._Plan(None, [], None, stale[1], [1], stale, token)
    assert not compaction._commit(storage, run, plan)
    with open_history(storage, run) as view:
        assert view.live_count == 51 and view.exports == []


def _running_with(storage: Storage, project: Project, steps: int) -> tuple[int, list[Any]]:
    run = _new_run(storage, project)
    rows = _rows(0, steps)
    _log(storage, run, rows, 0)
    return run, rows


def test_checkpoint_exports_the_settled_prefix_of_a_running_run(storage: Storage,
                                                                 project: Project) -> None:
    run, rows = _running_with(storage, project, 2_500)
    assert compaction.compact_now(storage, run, checkpoint_rows=3_000)  # too few: no part
    with open_history(storage, run) as view:
        assert view.exports == []
    assert compaction.compact_now(storage, run, checkpoint_rows=1_000)
    with open_history(storage, run) as view:
        # Lines 0-1999 fill two whole slots; the slot ingest is still filling stays live.
        assert [(e.min_step, e.max_step) for e in view.exports] == [(0, 1_999)]
        assert (view.live_count, view.live_min, view.live_max) == (500, 2_000, 2_499)
        assert view.live_after_exports and view.count() == 2_500
        assert view.count(1_990, 2_010) == 20
        assert view.exported_records(10, 20, ["loss"]) is not None
        assert view.exported_records(1_990, 2_010, ["loss"]) is None
    assert _same(_read(storage, run), rows)
    assert _same(_read(storage, run, min_step=1_990, max_step=2_010), rows[1_990:2_010])

    more = _rows(2_500, 5_000)
    _log(storage, run, more, 2_500)
    assert compaction.compact_now(storage, run, checkpoint_rows=1_000)
    _set_state(storage, run, "finished")
    assert compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert view.fully_exported
        assert [(e.part, e.min_step, e.max_step) for e in view.exports] == [
            (0, 0, 1_999), (1, 2_000, 4_999)]
    assert _same(_read(storage, run), rows + more)


def test_checkpoint_parts_grow_with_the_export(storage: Storage, project: Project) -> None:
    run, _ = _running_with(storage, project, 8_000)
    assert compaction.compact_now(storage, run, checkpoint_rows=1_000)
    _log(storage, run, _rows(8_000, 9_500), 8_000)
    # 1,500 new rows are under a quarter of the 8,000 exported: no part yet.
    assert compaction.compact_now(storage, run, checkpoint_rows=1_000)
    with open_history(storage, run) as view:
        assert len(view.exports) == 1 and view.live_count == 1_500


def test_a_rewrite_while_a_checkpoint_is_written_wins(storage: Storage, project: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run, rows = _running_with(storage, project, 2_500)
    changed = {**rows[10], "loss": -1.0}
    written = compaction.write_export

    def write_then_rewrite(*args: Any) -> Any:
        summary = written(*args)
        _log(storage, run, [changed], 10)  # another request rewrites line 10 meanwhile
        return summary

    monkeypatch.setattr(compaction, "write_export", write_then_rewrite)
    assert not compaction.compact_now(storage, run, checkpoint_rows=1_000)
    with open_history(storage, run) as view:
        assert view.exports == [] and view.live_count == 2_500
    expected = [*rows[:10], changed, *rows[11:]]
    assert _same(_read(storage, run), expected)
    monkeypatch.setattr(compaction, "write_export", written)
    assert compaction.compact_now(storage, run, checkpoint_rows=1_000)
    with open_history(storage, run) as view:
        assert len(view.exports) == 1 and view.live_count == 500
    assert _same(_read(storage, run), expected)


def test_a_rewrite_after_a_part_is_recorded_stops_its_deletes(storage: Storage,
                                                              project: Project) -> None:
    run, rows = _running_with(storage, project, 3_000)
    with open_history(storage, run) as view:
        token = compaction_queue.token(view.conn, run)
        summary_rows = list(compaction._rows_after(view, None, 1_999))
    assert len(summary_rows) == 2_000
    from tracklet.storage.history.export.table import Export, new_blob_key
    from tracklet.storage.history.export.writer import write_export
    path = storage.files.cache_dir() / "part.parquet"
    summary = write_export(lambda: iter(summary_rows), path)
    key = new_blob_key(run)
    with path.open("rb") as fh:
        size = storage.blobs.put(key, fh)
    export = Export(run_id=run, part=0, blob_key=key, size_bytes=size, row_count=summary.rows,
                    min_step=summary.min_step, max_step=summary.max_step,
                    key_stats=dumps_row({k: s.to_json() for k, s in summary.keys.items()}),
                    created_at=time.time())
    plan = compaction._Plan(export, [], None, 1_999, [], None, token)
    assert compaction._record(storage, run, plan)
    changed = {**rows[1_500], "loss": -1.0}
    _log(storage, run, [changed], 1_500)  # rewritten after the part was recorded
    compaction._delete_exported(storage, run, plan)
    expected = [*rows[:1_500], changed, *rows[1_501:]]
    with open_history(storage, run) as view:
        assert view.live_count == 3_000  # nothing deleted: every live row still wins
    assert _same(_read(storage, run), expected)
    _set_state(storage, run, "finished")
    assert compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        # The equal copies were dropped as redundant; the rewritten row stays live.
        assert view.live_count == 1 and len(view.exports) == 2
    assert _same(_read(storage, run), expected)


def test_history_keys_merge_tiers_and_count_new_lines_only(storage: Storage,
                                                           project: Project) -> None:
    run = _new_run(storage, project)
    _log(storage, run, [{"_step": 0, "a": 1, "s": "x"}, {"_step": 1, "a": 2.5, "m": None}], 0)
    with open_history(storage, run) as view:
        keys = history_keys(view)
    assert keys["lastStep"] == 1
    assert keys["keys"]["a"]["typeCounts"] == [{"type": "number", "count": 2}]
    assert keys["keys"]["m"]["typeCounts"] == [{"type": "nil", "count": 1}]
    assert keys["keys"]["a"]["previousValue"] == 2.5
    assert "previousValue" not in keys["keys"]["m"]
    _log(storage, run, [{"_step": 2, "a": float("nan"), "m": None, "s": "y", "b": [1],
                         "c": True, "d": {"k": 1}}], 2)
    with open_history(storage, run) as view:
        keys = history_keys(view)
    assert keys["keys"]["a"]["typeCounts"] == [{"type": "number", "count": 3}]
    assert [t["type"] for k in "bcd" for t in keys["keys"][k]["typeCounts"]] == [
        "list", "boolean", "map"]
    assert keys["keys"]["s"]["typeCounts"] == [{"type": "string", "count": 2}]
    # A plain dict's items are keys of their own, with their last values (as W&B lists them).
    assert keys["keys"]["d.k"] == {"typeCounts": [{"type": "number", "count": 1}],
                                   "previousValue": 1}
    assert keys["keys"]["s"]["previousValue"] == "y"
    assert "previousValue" not in keys["keys"]["a"]  # NaN is no previous value
    live_answer = keys
    _set_state(storage, run, "finished")
    compaction.compact_now(storage, run)
    with open_history(storage, run) as view:
        assert not view.has_live
        assert history_keys(view) == live_answer
    _set_state(storage, run, "running")
    _log(storage, run, [{"_step": 3, "a": {"_type": "histogram", "bins": [1]}}], 3)
    with open_history(storage, run) as view:
        keys = history_keys(view)
    assert keys["lastStep"] == 3
    assert sorted((t["type"], t["count"]) for t in keys["keys"]["a"]["typeCounts"]) == [
        ("histogram", 1), ("number", 3)]
    assert keys["keys"]["_step"]["typeCounts"] == [{"type": "number", "count": 4}]
    assert keys["keys"]["d.k"]["previousValue"] == 1 and keys["keys"]["s"]["previousValue"] == "y"
    empty = _new_run(storage, project, "empty")
    with open_history(storage, empty) as view:
        assert history_keys(view) == {"keys": {}}


def test_crashed_and_finished_runs_are_queued_and_compacted(storage: Storage,
                                                            project: Project) -> None:
    quiet, done = _new_run(storage, project, "quiet"), _new_run(storage, project, "done")
    for run in (quiet, done):
        _log(storage, run, _rows(0, 10), 0)
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, quiet, heartbeat_at=time.time() - 3600)
        assert run_repo.mark_crashed(conn, time.time() - 60) == 1
        run_repo.set_run_columns(conn, done, state="finished")
        compaction_queue.request(conn, [done])
        assert sorted(compaction_queue.pending(conn)) == sorted([quiet, done])
    assert compaction.run_pending(storage) == 2
    with storage.db.read() as conn:
        assert compaction_queue.pending(conn) == []
    for run in (quiet, done):
        with open_history(storage, run) as view:
            assert view.fully_exported


def test_delete_run_removes_both_tiers(storage: Storage, project: Project) -> None:
    run = _new_run(storage, project)
    _log(storage, run, _rows(0, 20), 0)
    _set_state(storage, run, "finished")
    compaction.compact_now(storage, run)
    _log(storage, run, [{"_step": 30, "x": 1}], 20)
    with open_history(storage, run) as view:
        keys = [e.blob_key for e in view.exports]
    delete_run(storage, run)
    assert not any(storage.blobs.exists(k) for k in keys)
    with open_history(storage, run) as view:
        assert view.exports == [] and not view.has_live


def test_sampling_keeps_every_keys_extremes() -> None:
    rows = [Row(s, data={"_step": s, "loss": 1.0 / (s + 1), "acc": s / 1000})
            for s in range(1000)]
    rows[613].data["loss"] = 99.0
    rows[377].data["acc"] = -5.0
    rows[100].data["loss"] = float("nan")
    for s in range(0, 1000, 50):
        rows[s].data["val"] = s
    picked = sample_rows(lambda: rows, 40, ["_step", "loss"])
    steps = [r.step for r in picked]
    assert len(picked) <= 40 and steps == sorted(steps) and {0, 613, 999} <= set(steps)
    picked = sample_rows(lambda: rows, 40)
    assert {0, 377, 613, 999, 950} <= {r.step for r in picked} and len(picked) <= 40
    sparse = sample_rows(lambda: rows, 5, ["val"])
    assert sparse[0].step == 0 and sparse[-1].step == 950
    assert all("val" in r.data for r in sparse)
    by_step = {r.step: r for r in rows}
    fetched = sample_rows(lambda: rows, 40, ["_step", "loss"],
                          fetch=lambda steps: [by_step[s] for s in steps])
    assert [r.step for r in fetched] == [r.step for r in sample_rows(
        lambda: rows, 40, ["_step", "loss"])]
    assert sample_rows(lambda: rows[:30], 40) == rows[:30]


def test_evenly_spaced() -> None:
    assert evenly_spaced(10, 3) == [0, 4, 9] or evenly_spaced(10, 3) == [0, 5, 9]
    assert evenly_spaced(5, 10) == [0, 1, 2, 3, 4]
    assert evenly_spaced(100, 1) == [0] and evenly_spaced(0, 5) == []


def test_strict_json_shadows() -> None:
    assert strict_json_text('{"a": 1}') is None
    assert orjson.loads(strict_json_text('{"a": NaN, "b": [Infinity, 2]}') or "") == {
        "a": None, "b": [None, 2]}
    assert strict_json_text("not json at all") == "{}"
    assert strict_json_text(None) is None


def test_rows_render_the_sdks_tokens() -> None:
    text = dumps_row({"a": float("nan"), "b": float("-inf"), "c": 2**70, "d": 1.5})
    assert text == '{"a":NaN,"b":-Infinity,"c":1180591620717411303424,"d":1.5}'
    back = Row(0, text=text).data
    assert math.isnan(back["a"]) and back["c"] == 2**70


def test_checkpoint_pacer_keeps_compaction_to_its_share() -> None:
    now = [100.0]
    pacer = compaction.CheckpointPacer(share=0.25, clock=lambda: now[0], cpu=lambda: 0.0)
    assert pacer.ready()
    pacer.spent(2.0)  # 2 s of work: the next checkpoint waits 6 s
    now[0] += 5.9
    assert not pacer.ready()
    now[0] += 0.1
    assert pacer.ready()
    pacer.spent(1.0)
    pacer.spent(1.0)  # back-to-back work adds up
    now[0] += 5.9
    assert not pacer.ready()
    now[0] += 0.1
    assert pacer.ready()


def test_checkpoint_pacer_yields_to_a_busy_process() -> None:
    now, cpu = [0.0], [0.0]
    pacer = compaction.CheckpointPacer(share=0.25, max_load=0.5, window=5.0,
                                       clock=lambda: now[0], cpu=lambda: cpu[0])
    now[0], cpu[0] = 5.0, 4.0  # ingest kept 0.8 of a core busy
    assert not pacer.ready() and pacer.load == pytest.approx(0.8)
    now[0], cpu[0] = 7.0, 4.2  # mid-window: the last measure holds
    assert not pacer.ready()
    now[0], cpu[0] = 10.0, 5.0  # quieter: 0.2
    assert pacer.ready() and pacer.load == pytest.approx(0.2)
    pacer.spent(1.0)  # the compaction's own CPU is not the load it yields to
    now[0], cpu[0] = 15.0, 7.5  # 2.5 s of CPU, 1 of them compaction: 0.3
    assert pacer.ready() and pacer.load == pytest.approx(0.3)


def test_a_paced_out_checkpoint_stays_queued_while_ended_runs_go_through(
        storage: Storage, project: Project) -> None:
    running, rows = _running_with(storage, project, 25_000)
    ended = _new_run(storage, project, "ended")
    _log(storage, ended, _rows(0, 300), 0)
    _set_state(storage, ended, "finished")
    with storage.db.write() as conn:
        compaction_queue.request_once(conn, running)
        compaction_queue.request(conn, [ended])
    pacer = compaction.CheckpointPacer(cpu=lambda: 0.0)
    pacer.spent(3600.0)
    for _ in range(6):  # more than a claim's attempts: putting off is no attempt
        assert compaction.run_pending(storage, pacer=pacer) == (1 if _ == 0 else 0)
    with open_history(storage, ended) as view:
        assert not view.has_live and len(view.exports) == 1
    with open_history(storage, running) as view:
        assert view.exports == [] and view.live_count == 25_000
    with storage.db.read() as conn:
        assert compaction_queue.pending(conn) == [running]
    # Claimed while the pacer was ready, put off once it is not: released, not attempted.
    pacer = compaction.CheckpointPacer(cpu=lambda: 0.0)
    with storage.db.write() as conn:
        claimed = compaction_queue.claim(conn)
        compaction_queue.release(conn, running, attempted=False)
    assert [c[0] for c in claimed] == [running]
    assert compaction.run_pending(storage, pacer=pacer) == 1
    with open_history(storage, running) as view:
        assert [(e.min_step, e.max_step) for e in view.exports] == [(0, 24_999)]
    assert _same(_read(storage, running), rows)


def test_many_histories_match_one_view_per_run(storage: Storage, project: Project) -> None:
    """The export lists and live step statistics read for many runs at once (a chart of
    many runs) equal each run's own view: live, checkpointed running, compacted, empty."""
    live = _new_run(storage, project, "live")
    _log(storage, live, _rows(0, 300), 0)
    checkpointed = _new_run(storage, project, "checkpointed")
    _log(storage, checkpointed, _rows(0, 2_500), 0)
    assert compaction.compact_now(storage, checkpointed, checkpoint_rows=1_000)
    compacted = _new_run(storage, project, "compacted")
    _log(storage, compacted, _rows(0, 1_200), 0)
    _set_state(storage, compacted, "finished")
    assert compaction.compact_now(storage, compacted)
    empty = _new_run(storage, project, "empty")
    ids = [compacted, live, empty, checkpointed]
    with storage.db.read() as conn:
        begin_snapshot(conn)
        views = many_histories(storage, conn, ids)
        try:
            for run_id, view in zip(ids, views, strict=True):
                one = RunHistory(storage, conn, run_id)
                assert view.run_id == run_id and view.exports == one.exports
                assert ((view.live_count, view.live_min, view.live_max)
                        == (one.live_count, one.live_min, one.live_max))
                assert (view.first_step(), view.last_step()) == (one.first_step(),
                                                                 one.last_step())
        finally:
            for view in views:
                view.close()
    by_kind = {run_id: (view.exports != [], view.has_live)
               for run_id, view in zip(ids, views, strict=True)}
    assert by_kind == {compacted: (True, False), live: (False, True),
                       empty: (False, False), checkpointed: (True, True)}
