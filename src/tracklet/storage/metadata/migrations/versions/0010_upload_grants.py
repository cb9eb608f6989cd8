"""Signed URLs and content addressing grant nothing by themselves: single-use upload tokens,
per-artifact upload proofs, client ids scoped to their sequence (or project), and an index to
find run files by digest

Client ids move to a new column ``scoped_client_id``, unique per sequence (per project for a
sequence's own id), and the old globally unique ``client_id`` is left empty. Dropping that
constraint in place would make SQLite rebuild ``artifacts`` and ``artifact_collections``,
and dropping a table with foreign keys on cascades its children's rows away.

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

# (table, the column a client id is unique within)
_SCOPES = (("artifacts", "sequence_id"), ("artifact_collections", "project_id"))


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
    for table, scope in _SCOPES:
        op.add_column(table, sa.Column("scoped_client_id", sa.String(length=128),
                                       nullable=True))
        op.execute(f"UPDATE {table} SET scoped_client_id = client_id, client_id = NULL "
                   "WHERE client_id IS NOT NULL")
        op.create_index(f"uq_{table}_scoped_client", table, [scope, "scoped_client_id"],
                        unique=True)
        op.create_index(f"ix_{table}_scoped_client_id", table, ["scoped_client_id"])


def downgrade() -> None:
    for table, _ in reversed(_SCOPES):
        op.drop_index(f"ix_{table}_scoped_client_id", table_name=table)
        op.drop_index(f"uq_{table}_scoped_client", table_name=table)
        # Ids another entity also used stay behind: 0002's client_id is globally unique.
        op.execute(f"UPDATE {table} SET client_id = scoped_client_id WHERE id IN ("
                   f"SELECT min(id) FROM {table} WHERE scoped_client_id IS NOT NULL "
                   "GROUP BY scoped_client_id)")
        op.drop_column(table, "scoped_client_id")
    op.drop_index("ix_run_files_md5", table_name="run_files")
    op.drop_table("artifact_upload_proofs")
    op.drop_index("ix_used_upload_tokens_expires", table_name="used_upload_tokens")
    op.drop_table("used_upload_tokens")
