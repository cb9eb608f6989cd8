"""Reading tensors logged with ``keep="full"`` back from the server."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any


def load_tensor(api_run: Any, key: str, step: int) -> Any:
    """The array logged as ``tracklet.Tensor(x, keep="full")`` under ``key`` at ``step``,
    from a run as ``wandb.Api().run(path)`` returns it: the history row names the
    content-addressed ``.npy`` run file, which is downloaded and loaded (never unpickled)."""
    import numpy as np

    rows = list(api_run.scan_history(keys=[f"{key}/tensor"], min_step=step, max_step=step + 1))
    if not rows:
        raise KeyError(f"no full tensor {key!r} at step {step}")
    path = rows[0][f"{key}/tensor"]["path"]
    with tempfile.TemporaryDirectory() as tmp:
        # The SDK returns the downloaded file opened (as text): only its path is wanted.
        api_run.file(path).download(root=tmp, replace=True).close()
        data = (Path(tmp) / path).read_bytes()
    return np.load(io.BytesIO(data), allow_pickle=False)
