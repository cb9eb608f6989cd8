"""Schema migrations (Alembic), run at server start and by ``tracklet db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tracklet.storage.metadata.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it names the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK_ID = 0x7472_6B6C


def alembic_config(db: Database) -> Config:
    """An Alembic config bound to ``db``'s engine (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["database"] = db
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; a no-op when it is already there.

    Safe when several server processes start at once: on SQLite the write transaction is
    exclusive; on PostgreSQL an advisory lock makes the others wait, then find nothing to do.
    """
    with db.schema_write() as conn:
        if conn.dialect.name == "postgresql":
            # Waiting for another process's migration may take longer than a request's wait.
            conn.execute(text("SET LOCAL lock_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        cfg = alembic_config(db)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to ``revision`` (``tracklet db`` does not offer it; tests and
    operators rolling back an upgrade do), under the same lock and rules as :func:`upgrade`."""
    with db.schema_write() as conn:
        cfg = alembic_config(db)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
