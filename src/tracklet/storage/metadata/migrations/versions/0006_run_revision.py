"""runs.revision: bumped by every update of a run, so cached listings know when to refresh

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never batch mode: on SQLite a batch rebuild drops and re-creates ``runs``,
# and with foreign keys on, dropping it cascades into history, console and run_files.


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("revision", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    # Covers the listing fingerprint (count, sums of id/revision/created_at per project),
    # so checking whether a cached listing is current never reads the wide run rows.
    op.create_index("ix_runs_project_revision", "runs",
                    ["project_id", "revision", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_revision", table_name="runs")
    op.drop_column("runs", "revision")
