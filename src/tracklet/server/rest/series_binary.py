"""The compact binary answer of ``GET /api/v1/runs/series`` (``format=binary``, or
``Accept: application/vnd.tracklet.series``): what the web UI's charts read.

The JSON answer spells every number in decimal, which costs the server its encoding and the
browser its parsing, about 60 bytes a bucket; this one is the same arrays as little-endian
float64, 8 bytes a value, read in the browser as a ``Float64Array`` over the body with
no parsing at all. Layout::

    offset 0   4 bytes   magic b"TKS1"
    offset 4   uint32    H, the header's length in bytes
    offset 8   H bytes   UTF-8 JSON header (below), then zero bytes up to a multiple of 8
    then       float64   for each run (header order), each key (header order): its ``n``
                         buckets, then ``n`` values of each of ``fields`` in order

The header is ``{"x": "_step", "start": 0, "bucketWidth": 100, "buckets": 1000,
"fields": ["min", "max", "last"], "runs": [{"run": "e/p/r", "series": {"loss": n}}]}``:
the JSON answer's axis and, per run and key, how many buckets hold a value. Every value is
the JSON answer's, as a float64: NaN and ±Infinity are IEEE values (not strings), and
integers beyond 2**53 are rounded as a browser's ``JSON.parse`` rounds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

from tracklet.storage.history.read.series import Axis, Series

MEDIA_TYPE = "application/vnd.tracklet.series"
MAGIC = b"TKS1"
_ATTRS = {"count": "count", "firstStep": "first_step", "lastStep": "last_step", "min": "min",
          "max": "max", "last": "last"}


def to_binary(runs: Sequence[str], axis: Axis, series: list[dict[str, Series]],
              fields: Sequence[str]) -> bytes:
    """The binary answer (see the module's docstring) of ``fields`` besides ``bucket``."""
    header = {"x": "_step", "start": axis.start, "bucketWidth": axis.width,
              "buckets": axis.buckets, "fields": list(fields),
              "runs": [{"run": path, "series": {k: len(s.bucket) for k, s in per_key.items()}}
                       for path, per_key in zip(runs, series, strict=True)]}
    head = orjson.dumps(header)
    pad = -(8 + len(head)) % 8
    parts: list[np.ndarray] = []
    for per_key in series:
        for s in per_key.values():
            parts.append(s.bucket)
            parts.extend(getattr(s, _ATTRS[f]) for f in fields)
    values = (np.concatenate([np.asarray(p).astype("<f8", copy=False) for p in parts])
              if parts else np.empty(0, "<f8"))
    return b"".join((MAGIC, len(head).to_bytes(4, "little"), head, b"\0" * pad,
                     values.tobytes()))
