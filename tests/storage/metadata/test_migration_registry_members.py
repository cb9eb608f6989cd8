"""Migration 0018 adds the registry member tables to a database with projects, users and
teams, and its downgrade drops them again."""

from __future__ import annotations

from sqlalchemy import inspect, text

from tracklet.config import Settings
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import downgrade, upgrade

TABLES = {"project_user_members", "project_team_members"}


def test_member_tables_come_and_go(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0017")
        with db.write() as c:
            c.execute(text("INSERT INTO entities(id, name, is_team, created_at) "
                           "VALUES (1, 'acme', true, 0), (2, 'ann', false, 0)"))
            c.execute(text("INSERT INTO users(id, username, admin, entity_id, created_at) "
                           "VALUES (1, 'ann', false, 2, 0)"))
            c.execute(text("INSERT INTO projects(id, entity_id, name, created_at, updated_at) "
                           "VALUES (1, 1, 'wandb-registry-x', 0, 0)"))
        upgrade(db)
        with db.write() as c:
            c.execute(text("INSERT INTO project_user_members VALUES (1, 1, 'viewer')"))
            c.execute(text("INSERT INTO project_team_members VALUES (1, 1, 'member')"))
        with db.read() as c:
            assert set(inspect(c).get_table_names()) >= TABLES
            assert c.execute(text("SELECT role FROM project_user_members")).scalar() == "viewer"
        downgrade(db, "0017")
        with db.read() as c:
            assert not TABLES & set(inspect(c).get_table_names())
            assert c.execute(text("SELECT name FROM projects")).scalar() == "wandb-registry-x"
    finally:
        db.dispose()
