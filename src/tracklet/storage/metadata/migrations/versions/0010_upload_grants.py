"""Signed URLs and content addressing grant nothing by themselves: single-use upload tokens,
per-artifact upload proofs, client ids scoped to their collection (or project), and an index
to find run files by digest

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# 0002 declared the client_id unique constraints without names: PostgreSQL named them
# <table>_client_id_key; SQLite keeps none, so batch mode names them by this convention.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _drop_global_unique(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(f"{table}_client_id_key", table, type_="unique")
        return
    with op.batch_alter_table(table, naming_convention=_SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint(f"uq_{table}_client_id", type_="unique")


def upgrade() -> None:
    op.create_table(
        "used_upload_tokens",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_used_upload_tokens_expires", "used_upload_tokens", ["expires_at"])
    op.create_table(
        "artifact_upload_proofs",
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("md5_hex", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("artifact_id", "md5_hex"),
    )
    op.create_index("ix_run_files_md5", "run_files", ["md5"])
    _drop_global_unique("artifacts")
    _drop_global_unique("artifact_collections")
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.create_unique_constraint("uq_artifacts_sequence_client",
                                          ["sequence_id", "client_id"])
    with op.batch_alter_table("artifact_collections") as batch_op:
        batch_op.create_unique_constraint("uq_artifact_collections_project_client",
                                          ["project_id", "client_id"])
    op.create_index("ix_artifacts_client", "artifacts", ["client_id"])
    op.create_index("ix_artifact_collections_client", "artifact_collections", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_artifact_collections_client", table_name="artifact_collections")
    op.drop_index("ix_artifacts_client", table_name="artifacts")
    with op.batch_alter_table("artifact_collections") as batch_op:
        batch_op.drop_constraint("uq_artifact_collections_project_client", type_="unique")
        batch_op.create_unique_constraint("uq_artifact_collections_client_id", ["client_id"])
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.drop_constraint("uq_artifacts_sequence_client", type_="unique")
        batch_op.create_unique_constraint("uq_artifacts_client_id", ["client_id"])
    op.drop_index("ix_run_files_md5", table_name="run_files")
    op.drop_table("artifact_upload_proofs")
    op.drop_index("ix_used_upload_tokens_expires", table_name="used_upload_tokens")
    op.drop_table("used_upload_tokens")
