"""history_chunks: live history packed 1,000 lines a row instead of one row per line

The rows of ``history`` are copied into chunks (lines of a run in line order, the layout
``tracklet.storage.history.live.chunks`` documents, written out here so this migration keeps
working whatever that module becomes), then ``history`` is dropped.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_LINES = 1000


def upgrade() -> None:
    chunks = op.create_table(
        "history_chunks",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("first_line", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_line", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("stepped", sa.Integer(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=True),
        sa.Column("max_step", sa.BigInteger(), nullable=True),
        sa.Column("layout", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "first_line"),
    )
    op.create_index("ix_history_chunks_run_steps", "history_chunks",
                    ["run_id", "max_step", "min_step"])
    conn = op.get_bind()
    history = sa.table("history", sa.column("run_id"), sa.column("line"), sa.column("step"),
                       sa.column("data"))
    run_ids = list(conn.execute(sa.select(history.c.run_id).distinct()).scalars())
    for run_id in run_ids:
        after = -1
        while True:
            rows = conn.execute(
                sa.select(history.c.line, history.c.step, history.c.data)
                .where(history.c.run_id == run_id, history.c.line > after)
                .order_by(history.c.line).limit(_LINES)
            ).all()
            if not rows:
                break
            conn.execute(chunks.insert(), [_chunk_row(int(run_id), rows)])
            after = int(rows[-1][0])
    op.drop_index("ix_history_run_step", table_name="history")
    op.drop_table("history")


def _chunk_row(run_id: int, rows: Sequence[Any]) -> dict[str, Any]:
    i8 = np.dtype("<i8")
    lines = np.array([int(r[0]) for r in rows], dtype=i8)
    has = np.array([r[1] is not None for r in rows], dtype=bool)
    steps = np.array([0 if r[1] is None else int(r[1]) for r in rows], dtype=i8)
    texts = [r[2] for r in rows]
    ends = np.cumsum(np.array([len(t) for t in texts], dtype=i8), dtype=i8)
    stepped = steps[has]
    layout = b"".join((lines.tobytes(), steps.tobytes(), ends.tobytes(),
                       has.astype(np.uint8).tobytes()))
    return {"run_id": run_id, "first_line": int(lines[0]), "last_line": int(lines[-1]),
            "line_count": len(rows), "stepped": len(stepped),
            "min_step": int(stepped.min()) if len(stepped) else None,
            "max_step": int(stepped.max()) if len(stepped) else None,
            "layout": layout, "data": "".join(texts)}


def downgrade() -> None:
    history = op.create_table(
        "history",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "line"),
    )
    op.create_index("ix_history_run_step", "history", ["run_id", "step"])
    conn = op.get_bind()
    chunks = sa.table("history_chunks", sa.column("run_id"), sa.column("layout"),
                      sa.column("data"))
    for run_id, layout, data in conn.execute(sa.select(chunks.c.run_id, chunks.c.layout,
                                                       chunks.c.data)):
        n = len(layout) // 25
        lines = np.frombuffer(layout, "<i8", n, 0).tolist()
        steps = np.frombuffer(layout, "<i8", n, 8 * n).tolist()
        ends = np.frombuffer(layout, "<i8", n, 16 * n).tolist()
        has = np.frombuffer(layout, np.uint8, n, 24 * n).tolist()
        starts = [0, *ends[:-1]]
        conn.execute(history.insert(), [
            {"run_id": run_id, "line": line, "step": step if flag else None,
             "data": data[a:b]}
            for line, step, flag, a, b in zip(lines, steps, has, starts, ends, strict=True)])
    op.drop_index("ix_history_chunks_run_steps", table_name="history_chunks")
    op.drop_table("history_chunks")
