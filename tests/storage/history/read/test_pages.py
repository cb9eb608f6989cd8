"""The GraphQL history reads at the storage level (:mod:`tracklet.storage.history.read.pages`):
the same answers whichever tier holds the rows and whichever read path a page takes.
``tests/server/test_history_property.py`` checks them through GraphQL against an oracle."""

from __future__ import annotations

from typing import Any

import pytest

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live.write import write_events, write_history
from tracklet.storage.history.read.pages import (
    first_rows,
    history_page,
    sampled_events,
    sampled_records,
)
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row, json_safe
from tracklet.storage.metadata import runs as run_repo


@pytest.fixture
def storage_blobs() -> str:
    return "local"


def _rows(start: int, stop: int) -> list[dict[str, Any]]:
    # "val" is sparse; a NaN and an infinity test the strict-JSON records.
    rows: list[dict[str, Any]] = []
    for s in range(start, stop):
        row: dict[str, Any] = {"_step": s, "loss": 1.0 / (s + 1), "acc": s % 7}
        if s % 3 == 0:
            row["val"] = s * 2
        if s == 5:
            row["loss"] = float("nan")
        if s == 6:
            row["acc"] = float("inf")
        rows.append(row)
    return rows


def _run(storage: Storage, project: Project, name: str, rows: list[dict[str, Any]],
         tier: str) -> int:
    """A run holding ``rows`` live, exported, or exported with a live tail (resumed)."""
    with storage.db.write() as conn:
        run_id = run_repo.create_run(conn, project, name, None, RunFields()).id
    cut = len(rows) if tier == "exported" else len(rows) // 2 if tier == "mixed" else 0
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(0, tuple(dumps_row(r) for r in rows[:cut])))
    if cut:
        with storage.db.write() as conn:
            run_repo.set_run_columns(conn, run_id, state="finished")
        assert compaction.compact_now(storage, run_id)
        with storage.db.write() as conn:
            run_repo.set_run_columns(conn, run_id, state="running")
    with storage.db.write() as conn:
        write_history(conn, run_id,
                      StreamChunk(cut, tuple(dumps_row(r) for r in rows[cut:])))
    with open_history(storage, run_id) as view:
        assert bool(view.exports) == (tier != "live")
        assert view.has_live == (tier != "exported")
    return run_id


@pytest.mark.parametrize("tier", ["live", "exported", "mixed"])
def test_pages_answer_the_same_on_every_tier(storage: Storage, project: Project,
                                             tier: str) -> None:
    rows = _rows(0, 120)
    run_id = _run(storage, project, tier, rows, tier)

    def expected(lo: int, hi: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
        inside = [r for r in rows if lo <= r["_step"] < hi]
        if keys is None:
            return inside
        return [json_safe({k: r[k] for k in keys}) for r in inside if all(k in r for k in keys)]

    def parsed(texts: list[str]) -> list[dict[str, Any]]:
        return [json_safe(loads(t)) for t in texts]

    with open_history(storage, run_id) as view:
        for lo, hi in [(0, 120), (0, 50), (50, 100), (100, 1000), (3, 7)]:
            assert parsed(history_page(view, lo, hi, 1000)) == json_safe(expected(lo, hi))
            for keys in (["loss", "acc"], ["val"], ["acc", "val", "_step"]):
                assert sampled_records(view, keys, lo, hi, 1000) == expected(lo, hi, keys)
        assert parsed(history_page(view, None, None, 1000)) == json_safe(rows)
        # Sampled: at most the samples plus every key's extremes, first and last kept.
        page = parsed(history_page(view, None, None, 10))
        assert page[0]["_step"] == 0 and page[-1]["_step"] == 119 and len(page) < 120
        assert all(row in json_safe(rows) for row in page)
        records = sampled_records(view, ["val"], None, None, 5)
        assert records[0] == {"val": 0} and records[-1] == {"val": 234}
        assert len(records) <= 5 and all(r in expected(0, 120, ["val"]) for r in records)
        # Empty requests read nothing.
        assert history_page(view, 10, 10, 100) == [] == history_page(view, 0, 100, 0)
        assert sampled_records(view, ["loss"], 9, 3, 100) == []
        assert first_rows(view, ["_step"], 4) == [{"_step": s} for s in range(4)]
        assert first_rows(view, ["_step", "val"], 4) == [
            {"_step": 0, "val": 0}, {"_step": 1}, {"_step": 2}, {"_step": 3, "val": 6}]


def test_sampled_events_keep_the_first_and_last_line(storage: Storage,
                                                    project: Project) -> None:
    with storage.db.write() as conn:
        run_id = run_repo.create_run(conn, project, "e", None, RunFields()).id
        lines = tuple(dumps_row({"cpu": i % 10, "_runtime": i}) for i in range(50))
        write_events(conn, run_id, StreamChunk(0, lines))
    assert sampled_events(storage, run_id, 0) == []
    assert sampled_events(storage, run_id, 100) == list(lines)
    sampled = sampled_events(storage, run_id, 8)
    assert sampled[0] == lines[0] and sampled[-1] == lines[-1] and len(sampled) < 50


def test_export_reads_are_cached_on_the_storage(storage: Storage, project: Project) -> None:
    run_id = _run(storage, project, "cached", _rows(0, 100), "exported")
    with open_history(storage, run_id) as view:
        history_page(view, 0, 50, 1000)
        reader = view.file(view.exports[0])
        assert reader._cache is storage.export_reads
        assert storage.export_reads.footers.get(reader._identity) is not None
