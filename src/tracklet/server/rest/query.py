"""POST /api/v1/query: one read-only SQL statement over the runs the caller may read.

The body is JSON::

    {"sql": "SELECT ...", "format": "json" | "arrow", "max_rows": 100, "scope": "e/p"}

``format`` defaults to ``json`` (or ``arrow`` when the request's ``Accept`` asks for
``application/vnd.apache.arrow.stream``), ``max_rows`` may lower the server's row limit,
``scope`` narrows the views to one entity or project. JSON answers::

    {"columns": [{"name": "run", "type": "VARCHAR"}, ...], "rows": [[...], ...],
     "row_count": 2, "truncated": false, "row_limit": 10000, "elapsed_s": 0.05}

with non-finite floats as ``"NaN"``/``"Infinity"``/``"-Infinity"`` and timestamps as ISO
8601 text; Arrow answers one IPC stream whose schema metadata holds ``tracklet.truncated``
and ``tracklet.row_limit`` (also in the ``X-Tracklet-Truncated`` and
``X-Tracklet-Row-Limit`` headers). See :mod:`tracklet.sql` and ``docs/query.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import orjson
import pyarrow as pa
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from tracklet.errors import InvalidInput
from tracklet.server.access import request_user
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState
from tracklet.sql import QueryLimits, QueryResult, run_query
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.rows import json_safe

ARROW_STREAM = "application/vnd.apache.arrow.stream"
FORMATS = ("json", "arrow")
_MAX_BODY = 256 * 1024


def limits(state: AppState) -> QueryLimits:
    """The server's query limits, from its settings."""
    s = state.settings
    return QueryLimits(timeout_s=s.query_timeout_s, max_rows=s.query_max_rows,
                       memory_mb=s.query_memory_mb, threads=s.query_threads,
                       concurrent=s.query_concurrency)


def _field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise InvalidInput(f"{name} must be a {kind.__name__}")
    return value


async def query(request: Request) -> Response:
    """Answer one statement."""
    state: AppState = request.app.state.tracklet
    body = await read_json(request, _MAX_BODY)
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"sql": "SELECT ..."}')
    sql = _field(body, "sql", str)
    if not sql:
        raise InvalidInput("sql is required: one SELECT statement")
    wants_arrow = ARROW_STREAM in request.headers.get("accept", "")
    fmt = _field(body, "format", str, "arrow" if wants_arrow else "json")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    max_rows = _field(body, "max_rows", int)
    if max_rows is not None and max_rows < 0:
        raise InvalidInput("max_rows must not be negative")
    scope = _field(body, "scope", str)
    result = await to_thread.run_sync(run_query, state.storage, request_user(request), sql,
                                      limits(state), scope, max_rows)
    headers = {"X-Tracklet-Truncated": str(result.truncated).lower(),
               "X-Tracklet-Row-Limit": str(result.row_limit)}
    if fmt == "arrow":
        return Response(await to_thread.run_sync(arrow_body, result), media_type=ARROW_STREAM,
                        headers=headers)
    return Response(await to_thread.run_sync(json_body, result),
                    media_type="application/json", headers=headers)


def arrow_body(result: QueryResult) -> bytes:
    """The result as one Arrow IPC stream."""
    meta = dict(result.table.schema.metadata or {})
    meta.update({b"tracklet.truncated": str(result.truncated).lower().encode(),
                 b"tracklet.row_limit": str(result.row_limit).encode()})
    table = result.table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # HUGEINT and integral DECIMALs stay exact integers; others become floats.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dt.timedelta,)):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def json_body(result: QueryResult) -> bytes:
    """The result as one JSON document (see the module docstring)."""
    table = result.table
    columns = [{"name": f.name, "type": t}
               for f, t in zip(table.schema, result.types, strict=True)]
    values = [_decoded(table.column(i).to_pylist(), t)
              for i, t in zip(range(table.num_columns), result.types, strict=True)]
    rows = [json_safe(list(row)) for row in zip(*values, strict=True)]
    doc = {"columns": columns, "rows": rows, "row_count": table.num_rows,
           "truncated": result.truncated, "row_limit": result.row_limit,
           "elapsed_s": round(result.elapsed_s, 6)}
    try:
        return orjson.dumps(doc, default=_default)
    except TypeError:  # an integer past 64 bits: the standard library writes it exactly
        return json.dumps(doc, default=_default, separators=(",", ":")).encode()


def _decoded(values: list[Any], sql_type: str) -> list[Any]:
    """A JSON column's text as the values it holds."""
    if sql_type != "JSON":
        return values
    return [None if v is None else loads(v) for v in values]
