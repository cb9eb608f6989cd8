"""sign_in_failures: failed sign-ins in the database, so every server process counts them

Before, each process kept its own count in memory, and N processes (``--workers N``, or
several machines behind a balancer) let an attacker try N times as many passwords.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_sign_in_failures_key", "sign_in_failures",
                    ["username", "address", "at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_key", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
