"""Database engine: SQLite (WAL, one writer) or PostgreSQL, with transient errors mapped.

Every write goes through :meth:`Database.write`, which on SQLite holds a process-wide lock so
that exactly one thread writes at a time (``BEGIN IMMEDIATE`` guards against other
processes); a lock wait beyond the busy timeout raises :class:`Unavailable`, which the
server answers with 503 + Retry-After so the SDK retries instead of losing data.

On PostgreSQL the same goes for the errors a retry cures: serialization failures and
deadlocks (the losing transaction is rolled back whole), lock timeouts, a server that is
starting, shutting down or out of connection slots, a lost or refused connection, and a
connection pool that stays exhausted beyond the busy timeout.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, PoolProxiedConnection, create_engine, event
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from tracklet.errors import InvalidInput, Unavailable
from tracklet.storage.metadata.regex import sqlite_regexp

T = TypeVar("T")

#: SQLite checkpoints the WAL inside a commit once it holds this many pages (4 KiB each). A
#: server checkpoints in the background (:meth:`Database.checkpoint`) long before that: at
#: SQLite's default of 1,000 pages, a 3 MB file_stream request paid a checkpoint (copy
#: into the database file and fsync) inside its own commit, 13 ms of its 22.
WAL_AUTOCHECKPOINT_PAGES = 25_000


class Database:
    """Owns the SQLAlchemy engine and hands out read and write transactions."""

    def __init__(self, url: str, busy_timeout_s: float = 10.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.busy_timeout_s = busy_timeout_s
        self._write_lock = threading.Lock()
        self._quick_lock = threading.Lock()
        self._quick: PoolProxiedConnection | None = None
        self._quick_raw: Any = None
        self.engine: Engine = self._make_engine()

    def _make_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.url.removeprefix("sqlite:///")
            if path and path != ":memory:" and not path.startswith("file:"):
                _private_sqlite_file(Path(path))
            engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": self.busy_timeout_s},
                pool_size=8,
                max_overflow=8,
            )
            busy_ms = int(self.busy_timeout_s * 1000)

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                # pysqlite's own transaction handling is off so BEGIN IMMEDIATE is ours to send.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
                cur.execute(f"PRAGMA busy_timeout={busy_ms}")
                cur.close()
                # Run filters' $regex, on RE2 rather than the backtracking ``re`` that
                # SQLAlchemy registers as REGEXP (see regex.py); REGEXP is replaced too.
                dbapi_conn.create_function("tracklet_regexp", 2, sqlite_regexp,
                                           deterministic=True)
                dbapi_conn.create_function("regexp", 2, sqlite_regexp, deterministic=True)

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                mode = conn.info.pop("begin_mode", "")
                conn.exec_driver_sql(f"BEGIN {mode}".strip())

            return engine
        if self.url.startswith("postgresql"):
            # Waiting for a row lock or a pooled connection is bounded like SQLite's busy wait.
            lock_ms = max(1, int(self.busy_timeout_s * 1000))
            return create_engine(self.url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                 pool_timeout=self.busy_timeout_s,
                                 connect_args={"options": f"-c lock_timeout={lock_ms}"})
        return create_engine(self.url, poolclass=NullPool)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; committed when the block exits without an exception."""
        with self._translate():
            if self.is_sqlite:
                if not self._write_lock.acquire(timeout=self.busy_timeout_s):
                    raise Unavailable("database busy, retry shortly", retry_after=1.0)
                try:
                    with self.engine.connect() as conn:
                        conn.info["begin_mode"] = "IMMEDIATE"
                        with conn.begin():
                            yield conn
                finally:
                    self._write_lock.release()
            else:
                with self.engine.connect() as conn, conn.begin():
                    yield conn

    @contextmanager
    def schema_write(self) -> Iterator[Connection]:
        """A write transaction for schema migrations. On SQLite foreign keys are off for it
        and checked before the commit: Alembic's batch mode rebuilds a table (copy, DROP,
        rename), and with foreign keys on, DROP TABLE's implicit DELETE would cascade into
        (or be refused by) every child row of that table."""
        if not self.is_sqlite:
            with self.write() as conn:
                yield conn
            return
        with self._translate():
            if not self._write_lock.acquire(timeout=self.busy_timeout_s):
                raise Unavailable("database busy, retry shortly", retry_after=1.0)
            try:
                with self.engine.connect() as conn:
                    # Outside a transaction (SQLite ignores this pragma inside one), on the
                    # driver's connection so SQLAlchemy does not begin one first.
                    raw = conn.connection.driver_connection
                    assert raw is not None
                    raw.execute("PRAGMA foreign_keys=OFF")
                    try:
                        conn.info["begin_mode"] = "IMMEDIATE"
                        with conn.begin():
                            yield conn
                            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                            if broken:
                                raise RuntimeError(f"migration left rows whose parent is "
                                                   f"missing: {broken[:5]}")
                    finally:
                        raw.execute("PRAGMA foreign_keys=ON")
            finally:
                self._write_lock.release()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy what the SQLite WAL holds into the database file so commits do not have to;
        returns (frames in the WAL, frames checkpointed), None on other databases.

        A first pass runs beside the writers (``PRAGMA wal_checkpoint(PASSIVE)``). Under a
        steady stream of commits it can never catch up with the WAL's end, and SQLite only
        rewinds the WAL once every frame is copied, so the WAL would grow until a commit
        crossed :data:`WAL_AUTOCHECKPOINT_PAGES` and paid for a checkpoint of ~100 MB
        inside itself (a 150-450 ms stall every few seconds at full ingest). So a second
        pass copies the few frames written meanwhile while this process holds its write
        lock: writers wait only for that remainder, and the next commit rewinds the WAL.
        """
        if not self.is_sqlite:
            return None
        with self._translate():
            frames, done = self._passive_checkpoint()
            if 0 <= done < frames and self._write_lock.acquire(timeout=self.busy_timeout_s):
                try:
                    frames, done = self._passive_checkpoint()
                finally:
                    self._write_lock.release()
        return frames, done

    def _passive_checkpoint(self) -> tuple[int, int]:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            _busy, frames, done = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cur.close()
        finally:
            raw.close()
        return int(frames), int(done)

    def run_write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` inside a write transaction and return its result."""
        with self.write() as conn:
            return fn(conn)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unavailable("database connection lost, retry", retry_after=1.0) from exc
            transient = _transient_reason(exc.orig)
            if transient is not None:
                raise Unavailable(transient, retry_after=1.0) from exc
            if getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise InvalidInput(
                    "query cancelled after the statement timeout (run_filter_timeout_s): "
                    "narrow the filters or simplify the $regex") from exc
            if isinstance(exc, DataError):
                # A value the database cannot hold (too long for its column, out of range,
                # a NUL character on PostgreSQL): the client's input, not a server fault.
                detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig) else "bad value"
                raise InvalidInput(f"value cannot be stored: {detail}") from exc
            raise
        except PoolTimeout as exc:
            raise Unavailable("database overloaded, retry shortly", retry_after=2.0) from exc

    def quick_read(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a tiny read (None without a row), for a
        value read on every request. ``sql`` takes ``?`` placeholders.

        It runs on a connection kept for it, in autocommit mode: one statement that reads
        the latest commit, without a pool checkout, a liveness ping or BEGIN/COMMIT around
        it. On SQLite (a WAL reader never waits) that is ~15 µs where a pooled SQLAlchemy
        transaction costs ~1 ms on this machine; on PostgreSQL one round trip instead of
        four. A failed read drops the connection (the next call opens another) and is
        answered as :class:`Unavailable`.
        """
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        with self._quick_lock:
            if self._quick is None:
                self._quick = self.engine.raw_connection()
                raw = self._quick.driver_connection
                if self.is_sqlite:
                    assert isinstance(raw, sqlite3.Connection)
                    raw.isolation_level = None
                else:
                    assert isinstance(raw, psycopg.Connection)
                    raw.autocommit = True
                self._quick_raw = raw
            try:
                row = self._quick_raw.execute(sql, tuple(params)).fetchone()
            except (sqlite3.Error, psycopg.Error) as exc:
                self._quick.invalidate()
                self._quick = self._quick_raw = None
                transient = _transient_reason(exc)
                if transient is None:
                    raise
                raise Unavailable(transient, retry_after=1.0) from exc
        return None if row is None else row[0]

    def dispose(self) -> None:
        """Close every pooled connection."""
        with self._quick_lock:
            if self._quick is not None:
                self._quick.close()
                self._quick = self._quick_raw = None
        self.engine.dispose()


# Lock conflicts a retry of the whole transaction cures: serialization_failure,
# deadlock_detected, lock_not_available (lock_timeout).
_BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# A server that cannot take the connection now: too_many_connections, admin_shutdown,
# crash_shutdown, cannot_connect_now; class 08 is connection exceptions. Everything else
# (constraint violations, program limits such as "too many grouping sets", syntax, an unknown
# database or role) would fail the same way on a retry.
_UNREACHABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})
# A statement timeout (``SET LOCAL statement_timeout``) fired: the query, not the server.
_QUERY_CANCELED = "57014"
# SQLITE_BUSY (another connection holds the lock) and SQLITE_LOCKED (a conflict inside this
# connection or its shared cache); the low byte of an extended code is its primary code, so
# BUSY_SNAPSHOT, BUSY_TIMEOUT, LOCKED_SHAREDCACHE and the like count too.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_BUSY = "database busy, retry shortly"


def _transient_reason(orig: BaseException | None) -> str | None:
    """What to tell a client when a retry of the whole transaction could succeed (None when
    it could not), judged by the driver's error code, never by words in the message (which
    may name a table or a limit). "busy" is kept for lock conflicts; a server that cannot be
    reached is called that."""
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return _BUSY
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        if sqlstate in _BUSY_SQLSTATES:
            return _BUSY
        if sqlstate in _UNREACHABLE_SQLSTATES or sqlstate.startswith("08"):
            return "database unavailable, retry shortly"
        return None
    # psycopg gives no SQLSTATE to the errors it raises itself rather than relays from the
    # server; its OperationalError among them is a connection that failed or was lost
    # (refused, reset, closed by a server restarting). A wrong URL is caught at start by
    # tracklet.storage.preflight, so here it is a server gone away for a while.
    if isinstance(orig, psycopg.OperationalError):
        return "database unreachable, retry shortly"
    return None


def _private_sqlite_file(path: Path) -> None:
    """Create the database file (and its folder) readable by the owner only, and take
    group and other access away from an existing one: it holds every user's data and
    credential hashes. SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        file = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
