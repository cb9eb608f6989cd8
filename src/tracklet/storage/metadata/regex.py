"""``$regex`` in run filters, on a linear-time engine.

Python's ``re`` backtracks: ``^(a|a)+$`` over 40 characters of a run's notes would hold the
server process (and the GIL: every other request, ``/health`` included) for days. Patterns
are compiled with RE2 (``google-re2``), whose matching time is linear in the text whatever
the pattern, and a pattern RE2 cannot run (backreferences, lookaround) or too large for it is
refused with a message naming the limit.

* SQLite: the ``tracklet_regexp(pattern, value)`` SQL function registered on every
  connection (:func:`sqlite_regexp`) matches with RE2.
* PostgreSQL: the database's own ``~`` runs the pattern, after it passed :func:`check_pattern`.
  PostgreSQL's engine (Spencer's, DFA-based) runs in the database process, not ours, is
  interruptible, and its exponential cases need backreferences, which RE2 syntax refuses;
  the run listing query also runs under a statement timeout (``run_filter_timeout_s``).
  Evaluating RE2 in Python instead would mean fetching every candidate row of a project.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from tracklet.errors import InvalidInput

#: Longest ``$regex`` pattern accepted, in characters.
MAX_PATTERN_CHARS = 1000
#: Memory RE2 may use for one compiled pattern (its automata); larger patterns are refused.
MAX_PATTERN_MEMORY = 8 << 20

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, options=_OPTIONS)


def check_pattern(pattern: str, ignore_case: bool = False) -> str:
    """The pattern as the SQL layer runs it (``(?i)`` prefixed when ``ignore_case``), or
    InvalidInput naming the limit it breaks."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidInput(f"$regex pattern is {len(pattern)} characters, over the limit of "
                           f"{MAX_PATTERN_CHARS}")
    full = ("(?i)" if ignore_case else "") + pattern
    try:
        _compiled(full)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise InvalidInput(
            f"invalid $regex {pattern!r} for the server's linear-time regex engine (RE2 "
            f"syntax: no backreferences or lookaround; at most {MAX_PATTERN_MEMORY >> 20} MB "
            f"compiled): {detail}") from None
    return full


def sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    """SQLite's ``tracklet_regexp(pattern, value)``: whether RE2 finds ``pattern`` in
    ``value`` (NULL for a NULL or non-text value, as SQL's other comparisons)."""
    if pattern is None or not isinstance(value, str):
        return None
    try:
        compiled = _compiled(pattern)
    except re2.error:
        return None
    return compiled.search(value) is not None
