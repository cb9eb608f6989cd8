"""org entities: every organization gets its own entity, where its registries live

An organization made before this revision has no entity of its name; this adds one (a team
in the organization, no members: the organization's admins administer it). One whose name an
existing entity already holds is left without (the SDK then finds no organization entity
for it, as before). Data only: no schema change; the downgrade leaves the entities, which
are ordinary teams to older code.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 07:20:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    orgs = conn.execute(sa.text(
        "SELECT id, name FROM organizations WHERE name NOT IN (SELECT name FROM entities)"
    )).all()
    for org_id, name in orgs:
        conn.execute(sa.text("INSERT INTO entities(name, is_team, org_id, created_at) "
                             "VALUES (:n, :t, :o, :c)"),
                     {"n": name, "t": True, "o": org_id, "c": time.time()})


def downgrade() -> None:
    pass
