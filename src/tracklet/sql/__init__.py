"""The SQL console: one read-only DuckDB statement over the runs a user may read.

:func:`run_query` builds, per statement, the views ``runs``, ``history``, ``system_metrics``
and ``artifacts`` (``docs/query.md``) from the user's readable runs only, then runs the
statement with file and network access off, under a time and a row limit.
"""

from __future__ import annotations

from tracklet.sql.engine import QueryLimits, QueryResult, check_statement, run_query
from tracklet.sql.scope import readable_entities
from tracklet.sql.views import VIEWS

__all__ = ["VIEWS", "QueryLimits", "QueryResult", "check_statement", "readable_entities",
           "run_query"]
