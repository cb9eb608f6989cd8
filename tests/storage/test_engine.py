"""The Database turns every error a retry would cure into Unavailable (HTTP 503 + Retry-After).

Each case provokes the real condition on a real server: a deadlock, a serialization failure,
a killed connection, a refused connection, an exhausted pool, a held SQLite lock.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from tests.conftest import PostgresServer
from tracklet.errors import InvalidInput, Unavailable
from tracklet.storage.metadata.engine import Database


def _pg(url: str, busy_timeout_s: float = 10.0) -> Database:
    return Database(url.replace("postgresql://", "postgresql+psycopg://", 1),
                    busy_timeout_s=busy_timeout_s)


@pytest.fixture
def pg(postgres_url: str) -> Database:
    db = _pg(postgres_url)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    return db


def _race(db: Database, bodies: list[Callable[[Connection], None]]) -> list[BaseException | None]:
    """Run each body in its own write transaction, concurrently; return what each raised."""
    outcomes: list[BaseException | None] = [None] * len(bodies)

    def run(i: int) -> None:
        try:
            with db.write() as conn:
                bodies[i](conn)
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.postgresql
def test_deadlock_is_unavailable_and_the_winner_commits(pg: Database) -> None:
    barrier = threading.Barrier(2, timeout=30)

    def lock_in_order(first: int, second: int) -> Callable[[Connection], None]:
        def body(conn: Connection) -> None:
            conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": first})
            barrier.wait()
            conn.execute(text("UPDATE t SET v = v + 10 WHERE id = :i"), {"i": second})
        return body

    outcomes = _race(pg, [lock_in_order(1, 2), lock_in_order(2, 1)])
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "Unavailable"]
    assert [o.message for o in outcomes if isinstance(o, Unavailable)] == [
        "database busy, retry shortly"]
    with pg.read() as conn:
        assert conn.execute(text("SELECT sum(v) FROM t")).scalar_one() == 11
    pg.dispose()


@pytest.mark.postgresql
def test_serialization_failure_is_unavailable(pg: Database) -> None:
    barrier = threading.Barrier(2, timeout=30)

    def body(conn: Connection) -> None:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        conn.execute(text("SELECT v FROM t WHERE id = 1")).scalar_one()
        barrier.wait()
        conn.execute(text("UPDATE t SET v = v + 1 WHERE id = 1"))

    outcomes = _race(pg, [body, body])
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "Unavailable"]
    failed = next(o for o in outcomes if o is not None)
    assert "could not serialize" in str(failed.__cause__)
    pg.dispose()


@pytest.mark.postgresql
def test_killed_connection_is_unavailable_and_the_next_request_works(pg: Database) -> None:
    with pytest.raises(Unavailable), pg.write() as conn:
        conn.execute(text("UPDATE t SET v = 99 WHERE id = 1"))
        conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    with pg.read() as conn:  # a fresh connection; the killed transaction left nothing
        assert conn.execute(text("SELECT v FROM t WHERE id = 1")).scalar_one() == 0
    pg.dispose()


@pytest.mark.postgresql
def test_exhausted_pool_is_unavailable(postgres_url: str) -> None:
    db = _pg(postgres_url, busy_timeout_s=0.3)
    with contextlib.ExitStack() as held:
        for _ in range(20):  # pool_size + max_overflow
            held.enter_context(db.engine.connect())
        with pytest.raises(Unavailable, match="overloaded"), db.read():
            pass
    with db.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    db.dispose()


@pytest.mark.postgresql
def test_waiting_for_a_row_lock_past_the_busy_timeout_is_unavailable(
    pg: Database, postgres_url: str
) -> None:
    impatient = _pg(postgres_url, busy_timeout_s=0.3)
    with pg.write() as holder:
        holder.execute(text("UPDATE t SET v = 5 WHERE id = 2"))
        with pytest.raises(Unavailable), impatient.write() as conn:
            conn.execute(text("UPDATE t SET v = 6 WHERE id = 2"))
    with pg.read() as conn:
        assert conn.execute(text("SELECT v FROM t WHERE id = 2")).scalar_one() == 5
    impatient.dispose()
    pg.dispose()


def test_refused_postgresql_connection_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = _pg(f"postgresql://postgres@127.0.0.1:{port}/nothing", busy_timeout_s=1)
    with pytest.raises(Unavailable, match="database unreachable") as raised, db.read():
        pass
    assert "busy" not in raised.value.message, "busy is for lock conflicts only"
    db.dispose()


def test_quick_read_masks_no_error_a_retry_would_not_cure(tmp_path: Path) -> None:
    """A failing tiny read is answered 503 only when it is a lock conflict: a missing table
    (a wrong database, a migration not run) must surface, not make the SDK retry forever."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        db.quick_read("SELECT v FROM busy_table WHERE v = ?", (1,))
    with db.write() as conn:
        conn.execute(text("CREATE TABLE busy_table (v int)"))
    assert db.quick_read("SELECT count(*) FROM busy_table") == 0
    db.dispose()


@pytest.mark.postgresql
def test_non_transient_errors_are_not_masked(pg: Database) -> None:
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    with pytest.raises(IntegrityError), pg.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    with pytest.raises(ProgrammingError), pg.read() as conn:
        conn.execute(text("SELECT busy FROM no_such_table"))
    pg.dispose()


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("value", "message"),
    [("x" * 20, "too long"), ("nul\x00here", "NUL"), (2**40, "out of range")],
)
def test_unstorable_values_are_invalid_input_and_store_nothing(
    pg: Database, value: object, message: str
) -> None:
    with pg.write() as conn:
        conn.execute(text("CREATE TABLE small (s varchar(8), i int)"))
    column = "i" if isinstance(value, int) else "s"
    with pytest.raises(InvalidInput, match=message), pg.write() as conn:
        conn.execute(text("INSERT INTO small (s) VALUES ('first')"))
        conn.execute(text(f"INSERT INTO small ({column}) VALUES (:v)"), {"v": value})
    with pg.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM small")).scalar_one() == 0
    pg.dispose()


def test_sqlite_writer_waiting_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_s=0.3)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v int)"))
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with db.write():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(Unavailable), db.write():
            pass
    finally:
        release.set()
        holder.join(30)
    db.dispose()


def test_sqlite_locked_by_another_process_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}", busy_timeout_s=0.3)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v int)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable), db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    db.dispose()


def test_sqlite_error_saying_too_many_is_not_transient(tmp_path: Path) -> None:
    """"too many SQL variables" (SQLITE_ERROR) fails the same on every retry, so it must not
    become a 503 the SDK retries forever."""
    from sqlalchemy.exc import OperationalError

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v int)"))
    marks = ", ".join("?" * 20)
    with pytest.raises(OperationalError, match="too many SQL variables"), db.read() as conn:
        conn.connection.dbapi_connection.setlimit(  # type: ignore[union-attr]
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)
        conn.exec_driver_sql(f"SELECT count(*) FROM t WHERE v IN ({marks})", tuple(range(20)))
    db.dispose()


def test_sqlite_table_locked_is_unavailable(tmp_path: Path) -> None:
    """SQLITE_LOCKED (here: dropping a table a statement of the same connection is still
    reading) is transient like SQLITE_BUSY."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v int)"))
        conn.execute(text("INSERT INTO t VALUES (1), (2)"))
    with pytest.raises(Unavailable), db.write() as conn:
        reading = conn.exec_driver_sql("SELECT v FROM t")
        reading.fetchone()
        conn.exec_driver_sql("DROP TABLE t")
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    db.dispose()


@pytest.mark.postgresql
def test_postgresql_program_limit_saying_too_many_is_not_transient(pg: Database) -> None:
    """SQLSTATE 54000 (program_limit_exceeded) is an OperationalError whose text says "too
    many"; a retry cannot cure it."""
    from sqlalchemy.exc import OperationalError

    first, second = (", ".join(f"c{i}" for i in r) for r in (range(6), range(6, 13)))
    columns = f"{first}, {second}"
    values = ", ".join("1" for _ in range(13))
    with pytest.raises(OperationalError, match="too many grouping sets"), pg.read() as conn:
        # 2**6 x 2**7 = 8,192 grouping sets, past PostgreSQL's 4,096
        conn.execute(text(f"SELECT count(*) FROM (VALUES ({values})) AS v ({columns}) "
                          f"GROUP BY CUBE ({first}), CUBE ({second})"))
    pg.dispose()


@pytest.mark.postgresql
def test_postgres_server_fixture_is_real(postgres_server: PostgresServer) -> None:
    db = _pg(postgres_server.url)
    with db.read() as conn:
        assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar_one()
    db.dispose()


def test_sqlite_commits_leave_the_wal_to_the_background_checkpoint(tmp_path: Path) -> None:
    """Megabytes of commits stay in the WAL (no checkpoint inside a commit) until
    ``checkpoint()`` copies them all, while a writer may keep going; PostgreSQL has none."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v text)"))
    for _ in range(3):  # 6 MB, past SQLite's default autocheckpoint of 1,000 pages
        with db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "x" * 2_000_000})
    wal = tmp_path / "x.db-wal"
    assert wal.stat().st_size > 6_000_000
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 3
    result = db.checkpoint()
    assert result is not None
    frames, done = result
    assert frames > 1000 and done == frames
    with db.write() as conn:  # the next writer restarts the WAL from its beginning
        conn.execute(text("INSERT INTO t VALUES ('y')"))
    again = db.checkpoint()
    assert again is not None and again[0] < 10 and again[1] == again[0]
    db.dispose()
    assert sqlite3.connect(tmp_path / "x.db").execute("SELECT count(*) FROM t").fetchone() == (4,)


def test_a_checkpoint_left_behind_finishes_under_the_write_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first pass that cannot copy every frame (here a reader's snapshot holds it back,
    as commits made during it do under load) is followed by one under the write lock, so
    the checkpoint ends complete and the next commit rewinds the WAL."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (v text)"))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "x" * 2_000_000})
    real = db._passive_checkpoint
    locked: list[bool] = []

    def passive() -> tuple[int, int]:
        locked.append(db._write_lock.locked())
        result = real()
        if reader.in_transaction:
            reader.execute("ROLLBACK")  # the snapshot that held the first pass back ends
        return result

    monkeypatch.setattr(db, "_passive_checkpoint", passive)
    result = db.checkpoint()
    assert result is not None and locked == [False, True]
    frames, done = result
    assert frames > 400 and done == frames
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES ('y')"))
    again = db.checkpoint()
    assert again is not None and again[0] < 10
    reader.close()
    db.dispose()


def test_postgresql_has_no_checkpoint_to_do(pg: Database) -> None:
    assert pg.checkpoint() is None
