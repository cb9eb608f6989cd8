"""The database URL checked before anything is opened: a supported scheme, and a database that
answers. What was tried and the driver's reason go into :class:`StoreUnusable`, so an
operator with a wrong ``--db`` reads one line instead of a traceback or a "busy" that sends
them looking for a lock.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tracklet.errors import StoreUnusable

SUPPORTED = ("postgresql://user:password@host:5432/dbname (PostgreSQL 13 or later)",
             "sqlite:///path/to/tracklet.db")
_CONNECT_TIMEOUT_S = 10
# Hints by what libpq says: it reports a failed connection without a SQLSTATE, so its text
# is all there is. They only add a pointer; the driver's own words are always shown.
_PG_HINTS = (
    ('role "', "authentication failed"),
    ("password authentication failed", "authentication failed"),
    ("does not exist", "the database does not exist (create it: createdb NAME)"),
    ("no pg_hba.conf entry", "authentication failed (no pg_hba.conf entry for this client)"),
    ("not permitted to log in", "authentication failed"),
    ("SSL", "TLS negotiation failed (see sslmode in the URL)"),
    ("certificate", "TLS negotiation failed (see sslrootcert / sslmode in the URL)"),
    ("Connection refused", "nothing is listening there"),
    ("timeout expired", "no answer within the connect timeout"),
    ("resolve host", "the host name does not resolve"),
)


def check_database_url(url: str) -> None:
    """Raise :class:`StoreUnusable` unless ``url`` names a database tracklet can use and that
    accepts a connection now. Creates nothing but a new SQLite file's folder."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _check_sqlite(parsed)
    elif backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", ""):
            raise StoreUnusable(
                f"the PostgreSQL driver {parsed.get_driver_name()!r} is not supported: "
                f"tracklet uses psycopg 3, write the URL as {SUPPORTED[0]}")
        _check_postgresql(parsed)
    elif backend in ("mysql", "mariadb"):
        raise StoreUnusable(
            f"{backend} is not supported as tracklet's database ({_shown(parsed)}): use "
            f"{' or '.join(SUPPORTED)}")
    else:
        raise StoreUnusable(_unsupported(url))


def _parse(url: str) -> URL:
    if url.startswith("postgres://"):
        raise StoreUnusable(f"write postgres:// URLs as postgresql:// ({SUPPORTED[0]})")
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StoreUnusable(_unsupported(url)) from exc


def _unsupported(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else url
    return (f"unsupported database URL scheme {scheme!r}: use {' or '.join(SUPPORTED)}")


def _shown(url: URL) -> str:
    """The URL as the operator would write it, its password masked."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _check_sqlite(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    if path.is_dir():
        raise StoreUnusable(f"cannot use the SQLite database {database!r}: it is a folder")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnusable(f"cannot create the folder of the SQLite database {database!r}: "
                            f"{exc.strerror or exc}") from exc
    if not path.exists():
        if not _writable(path.parent):
            raise StoreUnusable(f"cannot create the SQLite database {database!r}: the folder "
                                "is not writable")
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == 5
        if not busy:  # a writer holding the lock is no reason not to start
            raise StoreUnusable(f"cannot open the SQLite database {database!r}: {exc}") from exc


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _check_postgresql(url: URL) -> None:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=_CONNECT_TIMEOUT_S).close()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        hint = next((h for needle, h in _PG_HINTS if needle in reason), "connection failed")
        raise StoreUnusable(
            f"cannot connect to the database {_shown(url)}: {hint}: {reason}") from exc
