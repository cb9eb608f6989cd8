"""Migration 0002 adds runs.stop_requested in place: existing history and files survive."""

from __future__ import annotations

from sqlalchemy import text

from tests.storage.metadata.seed import insert_runs
from tracklet.config import Settings
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import downgrade, upgrade


def test_upgrade_and_downgrade_keep_child_rows(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0001")
        with db.write() as c:
            insert_runs(c, (1,), history_line_count=1)
            c.execute(text("INSERT INTO history(run_id, line, step, data) VALUES (1, 0, 0, '{}')"))
            c.execute(text("INSERT INTO run_files(run_id, name, size, created_at, updated_at, "
                           "uploaded) VALUES (1, 'f', 0, 0, 0, false)"))
        upgrade(db)
        with db.read() as c:
            assert c.execute(text("SELECT stop_requested FROM runs")).scalar_one() in (0, False)
            assert c.execute(text("SELECT sum(line_count) FROM history_chunks")
                             ).scalar_one() == 1
            assert c.execute(text("SELECT count(*) FROM run_files")).scalar_one() == 1
        downgrade(db, "0001")
        with db.read() as c:
            assert c.execute(text("SELECT count(*) FROM history")).scalar_one() == 1
    finally:
        db.dispose()
