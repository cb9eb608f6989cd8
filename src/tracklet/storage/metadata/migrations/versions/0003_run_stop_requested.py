"""runs.stop_requested: a stop asked for through StopRun, told to the SDK on file_stream

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never batch mode: on SQLite a batch rebuild drops and re-creates ``runs``,
# and with foreign keys on, dropping it cascades into history, console and run_files.


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("runs", "stop_requested")
