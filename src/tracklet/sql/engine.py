"""Running one SQL statement for one user: a throwaway DuckDB database holding only the
views of what that user may read, locked down before the statement runs.

The order matters. The views are copied into a fresh in-memory database first (so there is
no other data to reach; the history of compacted runs is read there by DuckDB from their
export files, paths that come from the metadata DB, never from the statement); then
file-system and network access (and with it extension loading) and further configuration
are switched off (Python-object scans and extension auto-loading never were on);
only then does the user's statement run, which must be a single SELECT (``WITH``,
``FROM t``, ``VALUES``, ``DESCRIBE`` and ``SUMMARIZE`` are SELECTs to DuckDB). A timer
interrupts it at the time limit, and no more than the row limit is fetched: the result says
when it was cut.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tracklet.domain.records import User
from tracklet.errors import InvalidInput, NotFound, PermissionDenied, Unavailable
from tracklet.sql.scope import may_read, readable_entities
from tracklet.sql.views import (
    CONVERSIONS,
    VIEWS,
    HistoryParts,
    Scope,
    artifacts_table,
    history_parts,
    json_fields,
    load_runs,
    runs_table,
    system_metrics_table,
)
from tracklet.storage.facade import Storage
from tracklet.storage.history.read.tiers import begin_snapshot

MAX_SQL_CHARS = 100_000
_MEMO_KEY = "query.gate"
# Statements naming one of these read every column of a view, so every history key is
# loaded for them; other statements load only the keys their text mentions. (A ``*`` counts
# unless it is ``count(*)``'s.)
_WHOLE = re.compile(r"(?<!\()\*(?!\s*\))|\bcolumns\s*\(|\bdescribe\b|\bsummarize\b|\bshow\b|"
                    r"information_schema|duckdb_columns|table_info|\bunpivot\b|\bpivot\b",
                    re.IGNORECASE)


@dataclass(frozen=True)
class QueryLimits:
    """How long a statement may run, how many rows it may return, and the memory and
    threads its database may use."""

    timeout_s: float = 10.0
    max_rows: int = 10_000
    memory_mb: int = 1024
    threads: int = 2
    concurrent: int = 2


@dataclass(frozen=True)
class QueryResult:
    """A statement's answer: at most ``row_limit`` rows; ``truncated`` when it had more."""

    table: pa.Table
    #: The columns' DuckDB types (``BIGINT``, ``DOUBLE``, ``JSON``, ``VARCHAR[]``...).
    types: list[str]
    truncated: bool
    row_limit: int
    elapsed_s: float


def check_statement(sql: str) -> str:
    """``sql`` when it is one SELECT statement; InvalidInput (what is wrong) otherwise."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("sql is required: one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInput(f"sql is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInput(f"SQL error: {_message(exc)}") from None
    if len(statements) != 1:
        raise InvalidInput(f"send one statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise InvalidInput(
            f"only SELECT statements (WITH ... SELECT included) are allowed, got {kind.name}")
    return sql


def parse_scope(value: str | None) -> tuple[str | None, str | None]:
    """``entity`` or ``entity/project`` as (entity, project); (None, None) for none."""
    if value is None or not value.strip():
        return None, None
    parts = value.strip().split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidInput(f"scope must be entity or entity/project, got {value!r}")
    return parts[0], parts[1] if len(parts) == 2 else None


class _Gate:
    """Admits at most ``n`` statements at once per process; others are told to retry."""

    def __init__(self, n: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, n))

    def __enter__(self) -> None:
        if not self.slots.acquire(timeout=1.0):
            raise Unavailable("too many queries are running, retry shortly", retry_after=2.0)

    def __exit__(self, *_: object) -> None:
        self.slots.release()


def _gate(storage: Storage, limits: QueryLimits) -> _Gate:
    gate = storage.memo.get(_MEMO_KEY)
    if gate is None:
        _warm_up(limits)
        gate = storage.memo.setdefault(_MEMO_KEY, _Gate(limits.concurrent))
    assert isinstance(gate, _Gate)
    return gate


def run_query(storage: Storage, user: User, sql: str, limits: QueryLimits,
              scope: str | None = None, max_rows: int | None = None) -> QueryResult:
    """Answer ``sql`` over the views of what ``user`` may read (narrowed to ``scope``,
    ``entity`` or ``entity/project``), within ``limits``; ``max_rows`` may lower the row
    limit. Bad SQL, a refused statement and the time limit are InvalidInput or
    PermissionDenied with DuckDB's own message."""
    check_statement(sql)
    entity, project = parse_scope(scope)
    gate = _gate(storage, limits)
    row_limit = limits.max_rows if max_rows is None else max(0, min(max_rows, limits.max_rows))
    started = time.monotonic()
    deadline = started + limits.timeout_s

    def check() -> None:
        if time.monotonic() > deadline:
            raise _timeout(limits)

    with gate:
        con = _connect(limits)
        # One timer for the whole statement: it interrupts DuckDB whether it is reading
        # export files into the views or running the statement.
        timer = threading.Timer(limits.timeout_s, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            try:
                _load_views(storage, user, con, sql, entity, project, check)
            except duckdb.InterruptException:
                raise _timeout(limits) from None
            _lock(con)
            table, types, truncated = _execute(con, sql, row_limit, deadline, limits)
        finally:
            timer.cancel()
            con.close()
    return QueryResult(table, types, truncated, row_limit, time.monotonic() - started)


def _warm_up(limits: QueryLimits) -> None:
    """The first Arrow conversion in a process imports pandas (pyarrow's shim) and DuckDB's
    first JSON cast loads its JSON support, together over a second: done once up front, so
    it never counts against a statement's time limit."""
    pa.array([0.0])
    con = _connect(limits)
    try:
        con.execute("SELECT '{}'::JSON").fetchall()
    finally:
        con.close()


def _timeout(limits: QueryLimits) -> InvalidInput:
    return InvalidInput(f"the query was stopped at the time limit of {limits.timeout_s:g} s; "
                        "narrow it (a WHERE on runs, fewer joins) or ask for fewer rows")


def _connect(limits: QueryLimits) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "python_enable_replacements": False,
        "threads": max(1, limits.threads),
        "memory_limit": f"{max(64, limits.memory_mb)}MB",
        "max_temp_directory_size": "0B",
    })


def _load_views(storage: Storage, user: User, con: duckdb.DuckDBPyConnection, sql: str,
                entity: str | None, project: str | None, check: Callable[[], None]) -> None:
    text = sql.lower()
    whole = _WHOLE.search(sql) is not None

    def wanted(key: str) -> bool:
        return whole or key.lower() in text

    with storage.db.read() as conn:
        begin_snapshot(conn)
        names = readable_entities(conn, user)
        if entity is not None:
            if entity not in names:
                raise NotFound(f"no entity {entity!r} that you may read")
            names = [entity]
        scope = Scope(names, project, functools.partial(may_read, user))
        run_list = load_runs(conn, scope)
        tables: dict[str, Callable[[], pa.Table | HistoryParts]] = {
            "runs": lambda: runs_table(run_list),
            "history": lambda: history_parts(storage, conn, run_list, wanted, check),
            "system_metrics": lambda: system_metrics_table(conn, run_list, check),
            "artifacts": lambda: artifacts_table(conn, scope, run_list),
        }
        for view in VIEWS:
            # A view the statement cannot name (its name is nowhere in the text) is left
            # empty: building it would only cost time.
            table = tables[view]() if view in text else None
            check()
            _create(con, view, table)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_history(con: duckdb.DuckDBPyConnection, parts: HistoryParts) -> None:
    """``history``: the rows read from export files by DuckDB, then the merged scan's; a
    key held as JSON text by any run is a JSON column."""
    json_keys = json_fields(parts.rows)
    casts = ", ".join(f"CAST({_quote(k)} AS JSON) AS {_quote(k)}" for k in json_keys)
    rows = (f"SELECT * REPLACE ({casts}) " if json_keys else "SELECT * ") \
        + 'FROM "_tracklet_history_rows"'
    con.register("_tracklet_history_rows", parts.rows)
    if not parts.files:
        con.execute(f"CREATE TABLE history AS {rows}")
        con.unregister("_tracklet_history_rows")
        return
    con.register("_tracklet_files", pa.table({
        "run": pa.array([run for run, _ in parts.files], pa.string()),
        "file": pa.array([path for _, path in parts.files], pa.string())}))
    keys = [_quote(k) for k in parts.file_keys]
    held = " OR ".join(f"p.{_quote(k)} IS NOT NULL" for k in parts.filter_keys) or "true"
    picked = "".join(f", to_json(p.{q}) AS {q}" if k in json_keys else f", p.{q}"
                     for k, q in zip(parts.file_keys, keys, strict=True))
    names = list(dict.fromkeys([*parts.rows.column_names, "run", "_step",
                                *parts.file_keys]))
    order = ["run", "_step", *sorted(n for n in names if n not in ("run", "_step"))]
    con.execute(f"""
        CREATE TABLE history AS SELECT {", ".join(_quote(n) for n in order)} FROM (
            SELECT f.run, p._step{picked}
            FROM read_parquet(?, union_by_name = true, filename = true) p
            JOIN "_tracklet_files" f ON p.filename = f.file
            WHERE {held}
            UNION ALL BY NAME
            {rows})""", [sorted({path for _, path in parts.files})])
    con.unregister("_tracklet_files")
    con.unregister("_tracklet_history_rows")


def _create(con: duckdb.DuckDBPyConnection, view: str,
            table: pa.Table | HistoryParts | None) -> None:
    if table is None:
        con.execute(f'CREATE TABLE "{view}" (run VARCHAR)')
        return
    if isinstance(table, HistoryParts):
        _create_history(con, table)
        return
    source = f"_tracklet_{view}"
    con.register(source, table)
    conversions = [f'{template.format(column)} AS "{column}"'
                   for column, template in CONVERSIONS.get(view, {}).items()]
    replace = f" REPLACE ({', '.join(conversions)})" if conversions else ""
    con.execute(f'CREATE TABLE "{view}" AS SELECT *{replace} FROM "{source}"')
    con.unregister(source)


def _lock(con: duckdb.DuckDBPyConnection) -> None:
    # From here on the statement runs: no files, no network, no changing that back.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _execute(con: duckdb.DuckDBPyConnection, sql: str, row_limit: int, deadline: float,
             limits: QueryLimits) -> tuple[pa.Table, list[str], bool]:
    if time.monotonic() > deadline:
        raise _timeout(limits)
    try:
        relation = con.sql(sql)
        types = [str(t) for t in relation.types]
        reader = relation.to_arrow_reader(min(max(row_limit, 1), 65_536) + 1)
        batches: list[pa.RecordBatch] = []
        rows = 0
        truncated = False
        for batch in reader:
            if rows + batch.num_rows > row_limit:
                batches.append(batch.slice(0, row_limit - rows))
                truncated = True
                break
            batches.append(batch)
            rows += batch.num_rows
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.InterruptException:
        raise _timeout(limits) from None
    except duckdb.PermissionException as exc:
        raise PermissionDenied(f"not allowed in a query: {_message(exc)}") from None
    except (duckdb.InternalException, duckdb.FatalException):
        raise
    except duckdb.OutOfMemoryException as exc:
        raise InvalidInput(f"the query needs more than the memory limit of "
                           f"{limits.memory_mb} MB: {_message(exc)}") from None
    except duckdb.Error as exc:
        raise InvalidInput(f"SQL error: {_message(exc)}") from None
    return table, types, truncated


def _message(exc: BaseException) -> str:
    return str(exc).strip()
