"""read path: strict-JSON shadows for run filters, history exports and the compaction queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from tracklet.storage.metadata.strict_json import strict_json_text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, never batch mode: a SQLite batch rebuild of ``runs`` cascades deletes.
    op.add_column("runs", sa.Column("config_strict", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("summary_strict", sa.Text(), nullable=True))
    op.create_table(
        "history_exports",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob_key", sa.String(length=256), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=True),
        sa.Column("max_step", sa.BigInteger(), nullable=True),
        sa.Column("key_stats", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "part"),
    )
    op.create_table(
        "history_compaction",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    _backfill()


def _backfill() -> None:
    """Shadows for existing runs; finished runs with live history queued for compaction."""
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("state", sa.String),
                    sa.column("config", sa.Text), sa.column("summary", sa.Text),
                    sa.column("config_strict", sa.Text), sa.column("summary_strict", sa.Text))
    for run_id, config, summary in conn.execute(sa.select(runs.c.id, runs.c.config,
                                                          runs.c.summary)):
        config_strict, summary_strict = strict_json_text(config), strict_json_text(summary)
        if config_strict is not None or summary_strict is not None:
            conn.execute(sa.update(runs).where(runs.c.id == run_id).values(
                config_strict=config_strict, summary_strict=summary_strict))
    history = sa.table("history", sa.column("run_id", sa.Integer))
    queue = sa.table("history_compaction", sa.column("run_id", sa.Integer),
                     sa.column("requested_at", sa.Float), sa.column("attempts", sa.Integer))
    finished = sa.select(runs.c.id, sa.literal(time.time()), sa.literal(0)).where(
        runs.c.state.in_(["finished", "failed", "crashed"]),
        sa.exists().where(history.c.run_id == runs.c.id))
    conn.execute(sa.insert(queue).from_select(["run_id", "requested_at", "attempts"],
                                              finished))


def downgrade() -> None:
    op.drop_table("history_compaction")
    op.drop_table("history_exports")
    op.drop_column("runs", "summary_strict")
    op.drop_column("runs", "config_strict")
