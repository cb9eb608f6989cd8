"""Turning what users log into history values: scalars as they are, arrays and tensors as a
histogram plus summary statistics.

numpy, torch and jax are recognised by their type's module, so none of them is imported
unless the user's own code already did (numpy is imported the first time an array arrives).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Bins of the histogram an array is logged as (wandb.Histogram's default).
HISTOGRAM_BINS = 64

_PLAIN = (int, float, str, bool, type(None))


class Tensor:
    """Wraps an array or tensor to choose how it is logged.

    ``keep="histogram"`` (what a bare array gets) stores a histogram and statistics;
    ``keep="full"`` also stores the whole array as a content-addressed ``.npy`` file
    referenced from the history row.
    """

    def __init__(self, data: Any, keep: str = "histogram") -> None:
        if keep not in ("histogram", "full"):
            raise ValueError(f"keep must be 'histogram' or 'full', not {keep!r}")
        self.array = to_numpy(data)
        self.keep = keep


def _module(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def is_array(value: Any) -> bool:
    """Whether ``value`` is a numpy array, torch tensor or jax array (not a scalar)."""
    module = _module(value)
    if module in ("numpy", "torch", "jax", "jaxlib"):
        shape = getattr(value, "shape", None)
        return shape is not None and len(shape) > 0
    return False


def to_numpy(value: Any) -> Any:
    """A numpy copy of an array or tensor (a torch tensor is detached and moved to the CPU)."""
    import numpy as np

    if _module(value) == "torch":
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``row`` whose arrays are copied, so training may change them in
    place after ``log()`` returned. Everything else is kept as given, to be encoded later."""
    out = dict(row)
    for key, value in out.items():
        if not isinstance(value, _PLAIN) and is_array(value):
            out[key] = Tensor(value)
    return out


def scalar(value: Any) -> Any:
    """A JSON-compatible value: numpy/torch scalars become Python numbers, mappings and
    sequences are converted item by item; anything else becomes its ``str``."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(k): scalar(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scalar(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) in ((), None):
        try:
            return scalar(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def histogram(array: Any) -> dict[str, Any]:
    """``{"_type": "histogram", "values": counts, "bins": edges}`` of the finite values."""
    import numpy as np

    flat = np.asarray(array, dtype=np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        finite = np.zeros(1)
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    return {"_type": "histogram", "values": [int(c) for c in counts],
            "bins": [float(e) for e in edges]}


def statistics(array: Any) -> dict[str, float | int]:
    """mean, std, min, max, norm (L2) of the finite values, and the nan / inf counts."""
    import numpy as np

    flat = np.asarray(array, dtype=np.float64).ravel()
    finite_mask = np.isfinite(flat)
    finite = flat[finite_mask]
    nan = int(np.isnan(flat).sum())
    inf = int(flat.size - finite.size - nan)
    if finite.size == 0:
        stats: dict[str, float | int] = {"mean": math.nan, "std": math.nan, "min": math.nan,
                                         "max": math.nan, "norm": math.nan}
    else:
        stats = {"mean": float(finite.mean()), "std": float(finite.std()),
                 "min": float(finite.min()), "max": float(finite.max()),
                 "norm": float(np.sqrt(np.dot(finite, finite)))}
    stats["nan"] = nan
    stats["inf"] = inf
    return stats
