"""``tracklet.query``: one SQL console statement against a tracklet server, from Python.

Only ``httpx`` (the ``client`` extra) and ``pyarrow`` are needed, both imported on first
call, so ``import tracklet`` stays light. The answer comes as Arrow and is handed back as a
pandas DataFrame when pandas is installed, else a polars DataFrame when polars is, else the
Arrow table (``output`` chooses). A cut answer (past the server's row limit) warns with
:class:`TruncatedWarning`; a refused or failing statement raises :class:`QueryError` with
the server's message.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any

ARROW_STREAM = "application/vnd.apache.arrow.stream"
OUTPUTS = ("auto", "pandas", "polars", "arrow")


class QueryError(Exception):
    """The server refused or could not answer the statement."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TruncatedWarning(UserWarning):
    """The answer holds only the first ``row_limit`` rows."""


@dataclass(frozen=True)
class Answer:
    """A statement's rows as Arrow, and whether the server cut them at ``row_limit``."""

    table: Any
    truncated: bool
    row_limit: int


def fetch(sql: str, *, url: str, key: str, scope: str | None = None,
          max_rows: int | None = None, timeout: float = 120.0) -> Answer:
    """POST ``sql`` to ``url``'s ``/api/v1/query`` with API ``key``; the Arrow answer."""
    import httpx
    import pyarrow.ipc as ipc

    body: dict[str, Any] = {"sql": sql, "format": "arrow"}
    if scope is not None:
        body["scope"] = scope
    if max_rows is not None:
        body["max_rows"] = max_rows
    response = httpx.post(url.rstrip("/") + "/api/v1/query", json=body, auth=("api", key),
                          headers={"Accept": ARROW_STREAM}, timeout=timeout)
    if response.status_code != 200:
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:500] or response.reason_phrase
        raise QueryError(message, response.status_code)
    table = ipc.open_stream(response.content).read_all()
    meta = table.schema.metadata or {}
    truncated = meta.get(b"tracklet.truncated") == b"true"
    row_limit = int(meta.get(b"tracklet.row_limit", b"0"))
    return Answer(table.replace_schema_metadata(None), truncated, row_limit)


def query(sql: str, *, url: str, key: str, scope: str | None = None,
          max_rows: int | None = None, output: str = "auto", timeout: float = 120.0) -> Any:
    """Answer ``sql`` (one SELECT over ``runs``, ``history``, ``system_metrics`` and
    ``artifacts``: see the server's docs/query.md) with the runs ``key``'s user may read.

    ``scope`` narrows the views to ``entity`` or ``entity/project``; ``max_rows`` lowers
    the server's row limit; ``output`` is ``auto`` (pandas, else polars, else Arrow),
    ``pandas``, ``polars`` or ``arrow``.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    answer = fetch(sql, url=url, key=key, scope=scope, max_rows=max_rows, timeout=timeout)
    if answer.truncated:
        warnings.warn(f"the answer was cut at the row limit of {answer.row_limit} rows; "
                      "aggregate in SQL or add a LIMIT", TruncatedWarning, stacklevel=2)
    if output == "auto":
        output = next((name for name in ("pandas", "polars")
                       if importlib.util.find_spec(name) is not None), "arrow")
    if output == "pandas":
        return answer.table.to_pandas()
    if output == "polars":
        import polars

        return polars.from_arrow(answer.table)
    return answer.table
