"""Deterministic metric data: every value can be recomputed from (run, step, metric).

Values are multiples of 1/256 below 4096, so they print and parse exactly in JSON on every
client and server: read-back checks compare them with ``==``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

N_METRICS = 10
METRICS = tuple(f"m{i}" for i in range(N_METRICS))
T0 = 1_700_000_000.0


def value(run: int, step: int, metric: int) -> float:
    """The value of metric ``metric`` at ``step`` of run number ``run``."""
    return ((run * 7919 + step * 31 + metric * 104_729) % 1_048_573) / 256


def row(run: int, step: int) -> dict[str, float]:
    """The 10 metrics of one step as a dict (for peers' client APIs)."""
    return {m: value(run, step, i) for i, m in enumerate(METRICS)}


def history_line(run: int, step: int) -> str:
    """One wandb history line as the SDK writes it: 10 metrics plus _step/_runtime/_timestamp."""
    base = run * 7919 + step * 31
    vals = ",".join(f'"m{i}":{((base + i * 104_729) % 1_048_573) / 256!r}'
                    for i in range(N_METRICS))
    return f'{{"_step":{step},"_runtime":{step * 0.01!r},"_timestamp":{T0 + step!r},{vals}}}'


def history_lines(run: int, start: int, stop: int) -> list[str]:
    """History lines for steps ``start <= step < stop`` (line index == step)."""
    return [history_line(run, s) for s in range(start, stop)]


def check_row(run: int, obj: dict[str, object], keys: Iterable[str] = METRICS) -> str | None:
    """None when ``obj`` (a parsed history row) holds the expected values, else what is wrong."""
    step = obj.get("_step")
    if not isinstance(step, int | float):
        return f"row without _step: {str(obj)[:120]}"
    for k in keys:
        want = value(run, int(step), int(k[1:]))
        if obj.get(k) != want:
            return f"run {run} step {step} {k}: got {obj.get(k)!r}, want {want!r}"
    return None


def write_parquet(path: Path, runs: Sequence[int], steps: int, row_group: int = 1_000_000) -> int:
    """The floor's file: columns run, _step, m0..m9 for ``steps`` steps of each run.

    Returns the file size in bytes.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    step_arr = np.arange(steps, dtype=np.int64)
    for r in runs:
        cols: dict[str, object] = {
            "run": pa.array(np.full(steps, r, dtype=np.int32)),
            "_step": pa.array(step_arr),
        }
        base = r * 7919 + step_arr * 31
        for i, m in enumerate(METRICS):
            cols[m] = pa.array(((base + i * 104_729) % 1_048_573) / 256)
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=row_group)
    if writer is not None:
        writer.close()
    return path.stat().st_size
