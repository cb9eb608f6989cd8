"""GET /api/v1/runs/series: chart series of many runs, min/max/last per bucket of steps.

``runs`` is a comma-separated list of ``entity/project/run`` paths, ``keys`` a
comma-separated list of metric keys, ``buckets`` how many buckets the step axis (``x``,
only ``_step`` for now) is cut into; ``min_step`` (inclusive) and ``max_step`` (exclusive)
narrow the axis to a range (a zoomed chart), read at that range's own resolution. The
answer is strict JSON::

    {"x": "_step", "start": 0, "bucketWidth": 100, "buckets": 1000,
     "runs": [{"run": "e/p/r", "series": {"loss": {"bucket": [...], "count": [...],
              "firstStep": [...], "lastStep": [...], "min": [...], "max": [...],
              "last": [...]}}}]}

one entry per non-empty bucket (``fields``, a comma-separated subset of count, firstStep,
lastStep, min, max, last, keeps only those arrays beside ``bucket``: a chart needs min,
max and last); bucket ``i`` covers steps ``[start + i*bucketWidth,
start + (i+1)*bucketWidth)`` on an axis shared by every run. ``bucket_width`` (with
``min_step``) fixes the buckets' width and starts the axis at ``min_step`` exactly, so the
answer lines up with an earlier one of that width: a chart of running runs asks only for
the steps from its last bucket on and appends them (at most ``MAX_BUCKETS`` such buckets).
With ``Accept: application/vnd.apache.arrow.stream`` the same data comes as one Arrow IPC
stream of rows (run, key, bucket, count, firstStep, lastStep, min, max, last), values as float64.
``format=json|arrow|binary`` picks the answer's form instead of ``Accept``: ``binary``
(or ``Accept: application/vnd.tracklet.series``) is the little-endian float64 layout of
:mod:`.series_binary`, which the web UI reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import InvalidInput
from tracklet.server.access import request_user
from tracklet.server.compression import LARGE_BODY, accepts_gzip, gzip_large
from tracklet.server.rest import series_binary
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.history.read.series import Axis, Series, chart_series
from tracklet.storage.metadata.runs import get_run_by_path

MAX_RUNS = 1000
MAX_KEYS = 100
MAX_BUCKETS = 10_000
DEFAULT_BUCKETS = 1000
ARROW_STREAM = "application/vnd.apache.arrow.stream"
FIELDS = ("count", "firstStep", "lastStep", "min", "max", "last")
FORMATS = {"json": "application/json", "arrow": ARROW_STREAM,
           "binary": series_binary.MEDIA_TYPE}


def _format(value: str | None, accept: str) -> str:
    """The answer's media type: ``format`` when given, else the first one ``accept``
    names, else JSON."""
    if value:
        if value not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {value!r}")
        return FORMATS[value]
    for media in (series_binary.MEDIA_TYPE, ARROW_STREAM):
        if media in accept:
            return media
    return "application/json"


def _list(value: str | None, name: str, limit: int) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if not items:
        raise InvalidInput(f"{name} is required: a comma-separated list")
    if len(items) > limit:
        raise InvalidInput(f"at most {limit} {name} per request, got {len(items)}")
    return list(dict.fromkeys(items))


def _buckets(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_BUCKETS
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(f"buckets must be an integer, got {value!r}") from None
    if not 1 <= n <= MAX_BUCKETS:
        raise InvalidInput(f"buckets must be between 1 and {MAX_BUCKETS}, got {n}")
    return n


def _paths(runs: Sequence[str]) -> list[tuple[str, str, str]]:
    out = []
    for path in runs:
        parts = path.split("/")
        if len(parts) != 3 or not all(parts):
            raise InvalidInput(f"run {path!r} is not entity/project/run")
        out.append((parts[0], parts[1], parts[2]))
    return out


def _fields(value: str | None) -> tuple[str, ...]:
    if value is None or not value.strip():
        return FIELDS
    wanted = {v.strip() for v in value.split(",") if v.strip()} - {"bucket"}
    unknown = sorted(wanted - set(FIELDS))
    if unknown:
        raise InvalidInput(f"fields must be among {', '.join(FIELDS)}, got {unknown[0]!r}")
    return tuple(f for f in FIELDS if f in wanted)


def _step(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer step, got {value!r}") from None


def load(storage: Storage, user: User, runs: Sequence[str], keys: Sequence[str],
         buckets: int, min_step: int | None = None, max_step: int | None = None,
         width: int | None = None) -> tuple[Axis, list[dict[str, Series]]]:
    """Resolve and authorise the runs, then reduce their series (over the steps from
    ``min_step``, inclusive, to ``max_step``, exclusive, when given; in buckets of
    ``width`` steps from ``min_step`` when given)."""
    paths = _paths(runs)
    for entity, project, _ in paths:
        require(user, Action.READ, entity, project)
    with storage.db.read() as conn:
        ids = [get_run_by_path(conn, *p).id for p in paths]
    if width is not None:
        return chart_series(storage, ids, keys, MAX_BUCKETS, min_step, max_step, width)
    return chart_series(storage, ids, keys, buckets, min_step, max_step)


def _only(columns: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    if len(fields) == len(FIELDS):
        return columns
    return {name: values for name, values in columns.items()
            if name == "bucket" or name in fields}


def to_json(runs: Sequence[str], axis: Axis, series: list[dict[str, Series]],
            fields: Sequence[str] = FIELDS) -> bytes:
    """The JSON answer (``bucket`` and the ``fields`` arrays of each series)."""
    body: dict[str, Any] = {
        "x": "_step", "start": axis.start, "bucketWidth": axis.width, "buckets": axis.buckets,
        "runs": [{"run": path, "series": {k: _only(s.to_json(), fields)
                                          for k, s in per_key.items()}}
                 for path, per_key in zip(runs, series, strict=True)]}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def to_arrow(runs: Sequence[str], axis: Axis, series: list[dict[str, Series]],
             fields: Sequence[str] = FIELDS) -> bytes:
    """The Arrow IPC stream answer (one record batch; run, key, bucket and the ``fields``
    columns), built column-wise."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    names = ("bucket", "count", "firstStep", "lastStep", "min", "max", "last")
    parts: dict[str, list[Any]] = {n: [] for n in ("run", "key", *names)}
    key_names: list[str] = []
    for i, per_key in enumerate(series):
        for key, s in per_key.items():
            n = len(s.bucket)
            parts["run"].append(np.full(n, i, dtype=np.int64))
            parts["key"].append(np.full(n, len(key_names), dtype=np.int64))
            key_names.append(key)
            for name, values in zip(names, (s.bucket, s.count, s.first_step, s.last_step,
                                            s.min, s.max, s.last), strict=True):
                parts[name].append(values)
    ints = {"bucket", "count", "firstStep", "lastStep"}

    def column(name: str) -> np.ndarray:
        dtype = np.int64 if name in ints or name in ("run", "key") else np.float64
        if not parts[name]:
            return np.empty(0, dtype=dtype)
        return np.concatenate([np.asarray(p, dtype=dtype) for p in parts[name]])

    types = {"run": pa.string(), "key": pa.string(), "bucket": pa.int64(), "count": pa.int64(),
             "firstStep": pa.int64(), "lastStep": pa.int64(), "min": pa.float64(),
             "max": pa.float64(), "last": pa.float64()}
    arrays = [pc.take(pa.array(list(runs), pa.string()), pa.array(column("run"))),
              pc.take(pa.array(key_names, pa.string()), pa.array(column("key"))),
              *(pa.array(column(n), type=types[n]) for n in names)]
    keep = {"run", "key", "bucket", *fields}
    arrays = [a for a, n in zip(arrays, types, strict=True) if n in keep]
    types = {n: t for n, t in types.items() if n in keep}
    meta = {b"x": b"_step", b"start": str(axis.start).encode(),
            b"bucketWidth": str(axis.width).encode(), b"buckets": str(axis.buckets).encode()}
    schema = pa.schema([pa.field(n, t) for n, t in types.items()], metadata=meta)
    batch = pa.record_batch(arrays, schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


async def runs_series(request: Request) -> Response:
    """Answer one chart-series request."""
    state: AppState = request.app.state.tracklet
    user = request_user(request)
    q = request.query_params
    x = q.get("x") or "_step"
    if x != "_step":
        raise InvalidInput(f"x must be _step (other axes are not supported), got {x!r}")
    runs = _list(q.get("runs"), "runs", MAX_RUNS)
    keys = _list(q.get("keys"), "keys", MAX_KEYS)
    buckets = _buckets(q.get("buckets"))
    fields = _fields(q.get("fields"))
    min_step, max_step = _step(q.get("min_step"), "min_step"), _step(q.get("max_step"),
                                                                      "max_step")
    media = _format(q.get("format"), request.headers.get("accept", ""))
    width = _step(q.get("bucket_width"), "bucket_width")
    if width is not None and (width < 1 or min_step is None):
        raise InvalidInput("bucket_width must be a positive integer, given with min_step")
    axis, series = await to_thread.run_sync(load, state.storage, user, runs, keys, buckets,
                                            min_step, max_step, width)
    gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
    body, encoded = await to_thread.run_sync(encode, runs, axis, series, media, gzip, fields)
    headers = {"Vary": "Accept, Accept-Encoding"}
    if encoded:
        # Set here, the API's gzip middleware passes the body through untouched.
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media, headers=headers)


def encode(runs: Sequence[str], axis: Axis, series: list[dict[str, Series]], media: str,
           gzip: bool, fields: Sequence[str] = FIELDS) -> tuple[bytes, bool]:
    """The answer's bytes in ``media`` (one of :data:`FORMATS`) and whether they are
    gzip-encoded (large answers only: smaller ones are left to the API's gzip
    middleware)."""
    if media == ARROW_STREAM:
        body = to_arrow(runs, axis, series, fields)
    elif media == series_binary.MEDIA_TYPE:
        body = series_binary.to_binary(runs, axis, series, fields)
    else:
        body = to_json(runs, axis, series, fields)
    if gzip and len(body) >= LARGE_BODY:
        return gzip_large(body), True
    return body, False
