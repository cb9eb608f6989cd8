"""Migration 0009 packs the per-line ``history`` rows into chunks and back, losing nothing:
lines with and without a step, gaps in line numbers, several runs, more than one chunk."""

from __future__ import annotations

from sqlalchemy import text

from tests.storage.metadata.seed import insert_runs
from tracklet.config import Settings
from tracklet.storage.history.live.read import history_counts, history_lines, iter_rows, top_line
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import downgrade, upgrade


def _rows(run_id: int) -> list[tuple[int, int | None, str]]:
    rows: list[tuple[int, int | None, str]] = []
    for i in range(2500):
        line = i if i < 1200 else i + 40  # a gap in line numbers
        step = None if i % 97 == 5 else (i // 2 if run_id == 1 else 2500 - i)
        data = f'{{"_step": {step}, "x": {i}, "s": "é"}}' if step is not None else f'{{"x": {i}}}'
        rows.append((line, step, data))
    return rows


def test_history_rows_survive_upgrade_and_downgrade(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0008")
        with db.write() as c:
            insert_runs(c, (1, 2), history_line_count=2540)
            for run_id in (1, 2):
                c.execute(text("INSERT INTO history(run_id, line, step, data) "
                               "VALUES (:r, :l, :s, :d)"),
                          [{"r": run_id, "l": ln, "s": s, "d": d} for ln, s, d in _rows(run_id)])
        upgrade(db)
        with db.read() as c:
            for run_id in (1, 2):
                want = _rows(run_id)
                assert history_lines(c, run_id) == [d for _, _, d in want]
                stepped = sorted((s, ln, d) for ln, s, d in want if s is not None)
                assert list(iter_rows(c, run_id)) == stepped
                assert top_line(c, run_id) == want[-1][0]
            assert history_counts(c, [1, 2]) == {1: 2500, 2: 2500}
            assert c.execute(text("SELECT count(*) FROM history_chunks")).scalar_one() == 6
        downgrade(db, "0008")
        with db.read() as c:
            for run_id in (1, 2):
                got = c.execute(text("SELECT line, step, data FROM history WHERE run_id = :r "
                                     "ORDER BY line"), {"r": run_id}).all()
                assert [tuple(r) for r in got] == _rows(run_id)
    finally:
        db.dispose()
