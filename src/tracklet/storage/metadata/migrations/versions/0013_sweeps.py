"""sweeps: sweeps, their agents, the parameter sets handed out, run alerts

* ``sweeps``: one per sweep of a project (its config as sent, method, state, seed).
* ``sweep_agents``: the agents registered on a sweep and their last heartbeat.
* ``sweep_runs``: every parameter set handed to an agent, by run name; a grid point's index
  is unique per sweep so no two agents get the same point.
* ``run_alerts``: ``run.alert(...)`` as stored after wait_duration rate limiting.
* ``alert_deliveries``: the delivery log of alerts to the configured webhook.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(),
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("project_id", "name", name="uq_sweeps_project_name"),
    )
    op.create_table(
        "sweep_agents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sweep_id", sa.Integer(),
                  sa.ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("total_runs", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sweep_id", "name", name="uq_sweep_agents_sweep_name"),
    )
    op.create_table(
        "sweep_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sweep_id", sa.Integer(),
                  sa.ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_name", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.Integer(),
                  sa.ForeignKey("sweep_agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("coordinates", sa.Text(), nullable=True),
        sa.Column("grid_index", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("sweep_id", "run_name", name="uq_sweep_runs_sweep_run"),
        sa.UniqueConstraint("sweep_id", "grid_index", name="uq_sweep_runs_sweep_grid"),
    )
    op.create_table(
        "run_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(),
                  sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("wait_duration", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_run_alerts_run_title", "run_alerts",
                    ["run_id", "title", "created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(),
                  sa.ForeignKey("run_alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries",
                    ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_run_alerts_run_title", table_name="run_alerts")
    op.drop_table("run_alerts")
    op.drop_table("sweep_runs")
    op.drop_table("sweep_agents")
    op.drop_table("sweeps")
