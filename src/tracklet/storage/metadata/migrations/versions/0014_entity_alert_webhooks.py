"""entity alert webhooks: a webhook per entity that its runs' alerts are also sent to

* ``entity_alert_settings``: one row per entity with a webhook (``tracklet alerts
  set-webhook ENTITY URL``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_alert_settings",
        sa.Column("entity_id", sa.Integer(),
                  sa.ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("entity_alert_settings")
