"""accounts: keyed key hashes, named keys, passwords, sign-in sessions; the URL-signing
secret leaves the database

* ``api_keys.hash_scheme``: ``sha256`` for the rows written before (the plain SHA-256 of
  the key), ``hmac`` once the server has re-keyed them with its pepper (``Storage.open``
  does that on first start: the key itself is not needed, see ``domain.keys``).
* ``api_keys.name`` becomes required and unique per user (``tracklet key revoke NAME``):
  unnamed keys get ``key-<id>``, a name repeated for one user gets ``-<id>`` appended.
* ``users.password_hash``: an argon2 hash, null for users without a password.
* ``sessions``: one row per signed-in browser, by the keyed hash of its cookie.
* The ``signing_secret`` setting is deleted: the secret now lives in the data dir or a
  setting (URLs signed before the upgrade stop verifying; the SDK asks for new ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("hash_scheme", sa.String(length=16), nullable=False,
                                   server_default="sha256"))
    op.execute("UPDATE api_keys SET name = 'key-' || CAST(id AS VARCHAR(20)) "
               "WHERE name IS NULL")
    op.execute(
        "UPDATE api_keys SET name = SUBSTR(name, 1, 40) || '-' || CAST(id AS VARCHAR(20)) "
        "WHERE EXISTS (SELECT 1 FROM api_keys AS older WHERE older.user_id = api_keys.user_id "
        "AND older.name = api_keys.name AND older.id < api_keys.id)"
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("name", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_api_keys_user_name", ["user_id", "name"])
    op.add_column("users", sa.Column("password_hash", sa.Text(), nullable=True))
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.execute("DELETE FROM server_settings WHERE key = 'signing_secret'")


def downgrade() -> None:
    op.drop_index("ix_sessions_user", table_name="sessions")
    op.drop_table("sessions")
    op.drop_column("users", "password_hash")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("uq_api_keys_user_name", type_="unique")
        batch.alter_column("name", existing_type=sa.String(length=64), nullable=True)
        batch.drop_column("hash_scheme")
