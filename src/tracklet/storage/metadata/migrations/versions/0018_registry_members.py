"""registry members: users and teams given a role on one project (a registry)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_user_members",
        sa.Column("project_id", sa.Integer(),
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_project_user_members_user", "project_user_members", ["user_id"])
    op.create_table(
        "project_team_members",
        sa.Column("project_id", sa.Integer(),
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("entity_id", sa.Integer(),
                  sa.ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_project_team_members_entity", "project_team_members", ["entity_id"])


def downgrade() -> None:
    op.drop_table("project_team_members")
    op.drop_table("project_user_members")
