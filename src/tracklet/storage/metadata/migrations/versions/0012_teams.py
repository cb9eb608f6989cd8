"""teams: organizations, team members with roles, service accounts, project visibility,
the audit log

* ``organizations`` and ``org_members`` (role admin/member/viewer per user).
* ``entities.org_id``: the organization a team entity belongs to (null: none).
* ``team_members``: (team entity, user, role).
* ``users.service_account``: a non-human user of a team, signing in with keys only.
* ``projects.access``: PRIVATE, TEAM or ORGANIZATION (null: TEAM, the default).
* ``audit_log``: one row per administrative action.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False, unique=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "org_members",
        sa.Column("org_id", sa.Integer(),
                  sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_org_members_user", "org_members", ["user_id"])
    op.create_table(
        "team_members",
        sa.Column("entity_id", sa.Integer(),
                  sa.ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_team_members_user", "team_members", ["user_id"])
    with op.batch_alter_table("entities") as batch:
        batch.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_entities_org", "organizations", ["org_id"], ["id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("service_account", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.add_column("projects", sa.Column("access", sa.String(length=16), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_column("projects", "access")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("service_account")
    with op.batch_alter_table("entities") as batch:
        batch.drop_constraint("fk_entities_org", type_="foreignkey")
        batch.drop_column("org_id")
    op.drop_index("ix_team_members_user", table_name="team_members")
    op.drop_table("team_members")
    op.drop_index("ix_org_members_user", table_name="org_members")
    op.drop_table("org_members")
    op.drop_table("organizations")
