"""api_keys.name: a short, non-secret prefix of each key so users can tell their keys apart

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys registered earlier keep a null name (only their hash is known); they are listed
    # as key-<id>.
    op.add_column("api_keys", sa.Column("name", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "name")
