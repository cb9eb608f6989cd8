"""Migration 0016 gives every existing organization its entity (where registries live),
unless an entity already holds the name."""

from __future__ import annotations

from sqlalchemy import text

from tracklet.config import Settings
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import upgrade


def test_existing_organizations_get_their_entity(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0015")
        with db.write() as c:
            c.execute(text("INSERT INTO organizations(id, name, created_at) "
                           "VALUES (1, 'acme', 0), (2, 'taken', 0)"))
            c.execute(text("INSERT INTO entities(name, is_team, created_at) "
                           "VALUES ('taken', false, 0)"))
        upgrade(db)
        with db.read() as c:
            rows = c.execute(text("SELECT name, is_team, org_id FROM entities ORDER BY name")
                             ).all()
        assert [(n, bool(t), o) for n, t, o in rows] == [("acme", True, 1),
                                                         ("taken", False, None)]
    finally:
        db.dispose()
