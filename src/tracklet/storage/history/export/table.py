"""The ``history_exports`` table: which Parquet blobs hold a run's compacted history.

The statement listing a run's parts is built once per process (a module constant): every
history read runs it, it is constant SQL, and it holds no data of any deployment.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from tracklet.storage.history.export.key_stats import KeyStats
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata.tables import history_exports


@dataclass(frozen=True)
class Export:
    """One immutable Parquet part of a run's compacted history."""

    run_id: int
    part: int
    blob_key: str
    size_bytes: int
    row_count: int
    min_step: int | None
    max_step: int | None
    key_stats: str
    created_at: float

    def stats(self) -> dict[str, KeyStats]:
        """Per-key statistics gathered when the part was written."""
        data = loads(self.key_stats or "{}")  # exact: a min or max may pass 64 bits
        return {k: KeyStats.from_json(v) for k, v in data.items()}


# Built once: every history read lists the run's parts first.
_EXPORTS_OF_RUN = (select(history_exports)
                   .where(history_exports.c.run_id == bindparam("run_id"))
                   .order_by(history_exports.c.part))


def get_exports(conn: Connection, run_id: int) -> list[Export]:
    """The run's export parts in order (their step ranges increase); empty when none."""
    rows = conn.execute(_EXPORTS_OF_RUN, {"run_id": run_id}).all()
    return [Export(**row._mapping) for row in rows]


_IN_CHUNK = 500  # run ids per IN (...) list: well under every driver's parameter limit


def exports_of_runs(conn: Connection, run_ids: Sequence[int]) -> dict[int, list[Export]]:
    """:func:`get_exports` of many runs in a few queries (a chart of many runs)."""
    out: dict[int, list[Export]] = {run_id: [] for run_id in run_ids}
    ids = list(out)
    for i in range(0, len(ids), _IN_CHUNK):
        rows = conn.execute(select(history_exports)
                            .where(history_exports.c.run_id.in_(ids[i:i + _IN_CHUNK]))
                            .order_by(history_exports.c.run_id, history_exports.c.part)).all()
        for row in rows:
            out[row.run_id].append(Export(**row._mapping))
    return out


def add_export(conn: Connection, export: Export) -> None:
    """Record a new part (its ``part`` number is the next one)."""
    conn.execute(history_exports.insert().values(**export.__dict__))


def delete_exports(conn: Connection, run_id: int) -> list[str]:
    """Forget all of the run's parts; returns their blob keys for the caller to delete."""
    keys = [e.blob_key for e in get_exports(conn, run_id)]
    conn.execute(history_exports.delete().where(history_exports.c.run_id == run_id))
    return keys


def new_blob_key(run_id: int) -> str:
    """A fresh key for a run's export blob (exports are immutable; a rebuild gets a new key)."""
    return f"history/{run_id}/{time.time_ns():x}.parquet"
