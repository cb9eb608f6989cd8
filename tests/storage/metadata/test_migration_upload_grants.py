"""Migration 0010 moves client ids into ``scoped_client_id`` in place: an artifact's files,
memberships and aliases survive (a rebuilt ``artifacts`` table would cascade them away), and
two entities may then log the same client id."""

from __future__ import annotations

from sqlalchemy import text

from tests.storage.metadata.seed import insert_runs
from tracklet.config import Settings
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import downgrade, upgrade

CLIENT = "c" * 128


def _count(db: Database, table: str) -> int:
    with db.read() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_client_ids_move_and_child_rows_survive(storage_settings: Settings) -> None:
    db = Database(storage_settings.db_url)
    try:
        upgrade(db, "0009")
        with db.write() as c:
            insert_runs(c, (1,), history_line_count=0)
            c.execute(text("INSERT INTO artifact_types(id, project_id, name, created_at) "
                           "VALUES (1, 1, 'dataset', 0)"))
            c.execute(text(
                "INSERT INTO artifact_collections(id, project_id, type_id, name, kind, "
                "client_id, next_version, created_at, updated_at) "
                "VALUES (1, 1, 1, 'data', 'SEQUENCE', :s, 1, 0, 0)"), {"s": "s" * 128})
            c.execute(text(
                "INSERT INTO artifacts(id, sequence_id, type_id, version_index, digest, "
                "digest_algorithm, state, tags, pending_aliases, size, file_count, "
                "ttl_inherited, client_id, created_at, updated_at) VALUES (1, 1, 1, 0, 'd', "
                "'MANIFEST_MD5', 'COMMITTED', '[]', '[]', 1, 1, true, :c, 0, 0)"),
                {"c": CLIENT})
            c.execute(text("INSERT INTO artifact_files(artifact_id, path, digest, size) "
                           "VALUES (1, 'a.txt', 'x', 1)"))
            c.execute(text("INSERT INTO artifact_memberships(collection_id, artifact_id, "
                           "version_index, created_at) VALUES (1, 1, 0, 0)"))
            c.execute(text("INSERT INTO artifact_aliases(collection_id, artifact_id, alias, "
                           "created_at) VALUES (1, 1, 'latest', 0)"))
        upgrade(db)
        for table in ("artifacts", "artifact_files", "artifact_memberships",
                      "artifact_aliases", "artifact_collections"):
            assert _count(db, table) == 1, table
        with db.read() as c:
            assert c.execute(text("SELECT client_id, scoped_client_id FROM artifacts")
                             ).one() == (None, CLIENT)
            assert c.execute(text("SELECT client_id, scoped_client_id FROM "
                                  "artifact_collections")).one() == (None, "s" * 128)
        # Another entity's sequence may log the same client id now.
        with db.write() as c:
            c.execute(text("INSERT INTO entities(id, name, is_team, created_at) "
                           "VALUES (2, 'other', false, 0)"))
            c.execute(text("INSERT INTO projects(id, entity_id, name, created_at, updated_at) "
                           "VALUES (2, 2, 'p', 0, 0)"))
            c.execute(text(
                "INSERT INTO artifact_collections(id, project_id, type_id, name, kind, "
                "scoped_client_id, next_version, created_at, updated_at) "
                "VALUES (2, 2, 1, 'data', 'SEQUENCE', :s, 0, 0, 0)"), {"s": "s" * 128})
            c.execute(text(
                "INSERT INTO artifacts(id, sequence_id, type_id, digest, digest_algorithm, "
                "state, tags, pending_aliases, size, file_count, ttl_inherited, "
                "scoped_client_id, created_at, updated_at) VALUES (2, 2, 1, 'd', "
                "'MANIFEST_MD5', 'PENDING', '[]', '[]', 0, 0, true, :c, 0, 0)"), {"c": CLIENT})
        downgrade(db, "0009")
        assert _count(db, "artifact_files") == 1
        with db.read() as c:
            assert c.execute(text("SELECT client_id FROM artifacts ORDER BY id")
                             ).scalars().all() == [CLIENT, None]
    finally:
        db.dispose()
