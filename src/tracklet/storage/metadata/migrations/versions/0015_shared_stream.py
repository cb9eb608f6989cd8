"""shared_stream: file_stream writers of shared-mode runs; artifact collection tags

* ``stream_writers``: per run, writer (the SDK's X-WANDB-ASYNC-CLIENT-ID) and logical file,
  the next line offset of that writer and its latest lines' places in the run, so each
  writer's offsets are a space of their own.
* ``artifact_collections.tags``: the collection's tags, a JSON list of names.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_writers",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("writer", sa.String(length=128), primary_key=True),
        sa.Column("file", sa.String(length=32), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("recent", sa.Text(), nullable=False),
    )
    op.add_column("artifact_collections",
                  sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("artifact_collections") as batch:
        batch.drop_column("tags")
    op.drop_table("stream_writers")
