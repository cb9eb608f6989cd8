"""artifacts: manifest kind, base and distributed id (incremental and distributed artifacts);
artifact_outputs: every run that logged an artifact version, not only the one that created it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Plain ADD COLUMN, never batch mode: a batch rebuild of ``artifacts`` on SQLite would cascade
# deletes into the tables that reference it.


def upgrade() -> None:
    op.add_column("artifacts", sa.Column("manifest_type", sa.String(length=16), nullable=True))
    op.add_column("artifacts", sa.Column("base_artifact_id", sa.Integer(), nullable=True))
    op.add_column("artifacts", sa.Column("distributed_id", sa.String(length=128), nullable=True))
    op.create_index("ix_artifacts_sequence_distributed", "artifacts",
                    ["sequence_id", "distributed_id"])
    op.create_table(
        "artifact_outputs",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "artifact_id"),
    )
    op.create_index("ix_artifact_outputs_artifact", "artifact_outputs", ["artifact_id"])


def downgrade() -> None:
    op.drop_index("ix_artifact_outputs_artifact", table_name="artifact_outputs")
    op.drop_table("artifact_outputs")
    op.drop_index("ix_artifacts_sequence_distributed", table_name="artifacts")
    op.drop_column("artifacts", "distributed_id")
    op.drop_column("artifacts", "base_artifact_id")
    op.drop_column("artifacts", "manifest_type")
