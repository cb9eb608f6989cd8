"""Who is behind a request's credentials: an API key, as HTTP Basic ``api:<key>`` (as the SDK
sends it) or ``Authorization: Bearer <key>``, or a browser's session cookie.

Every ``Access.USER`` route resolves its caller here, through the route guard in
:mod:`tracklet.server.access`. An Authorization header wins over a cookie (and a wrong one is
refused even beside a valid cookie).

Resolved credentials are cached per process, and the cache is dropped whenever the
database's auth version changes (:func:`tracklet.storage.metadata.accounts.auth_version`,
bumped by every revocation, sign-out and password change), which is read on every request:
a revoked key or ended session is refused by every process from the next request on. On
SQLite that read is a few microseconds and done on the event loop; elsewhere it is a round
trip, done in a worker thread with the rest of :meth:`Authenticator.authenticate`.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from tracklet.domain.keys import hash_api_key, hash_token
from tracklet.domain.records import User
from tracklet.errors import Unauthenticated
from tracklet.storage import Storage, credentials

#: How long a resolved key is reused before it is looked up again, even if the auth version
#: did not change (so other edits to a user, such as the admin flag, show within this time).
_CACHE_TTL_S = 30.0
#: The HttpOnly cookie holding a session token.
SESSION_COOKIE = "tracklet_session"
#: The cookie holding the session's CSRF token, readable by the page's scripts, which echo
#: it in :data:`CSRF_HEADER` on every write.
CSRF_COOKIE = "tracklet_csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the user, and the session token when the credential was a
    session cookie (None for an API key)."""

    user: User
    session: str | None = None


def key_from_header(value: str | None) -> str | None:
    """The API key in an Authorization header, or None."""
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep else None
    if scheme.lower() == "bearer":
        return rest.strip() or None
    return None


def csrf_token(csrf_key: bytes, session: str) -> str:
    """The CSRF token of a session: derived from it, so it needs no storage and a token
    planted by another site never matches the victim's session."""
    mac = hmac.digest(csrf_key, session.encode(), "sha256")
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(csrf_key: bytes, session: str, sent: str | None) -> bool:
    """True when ``sent`` is the CSRF token of ``session``."""
    return bool(sent) and hmac.compare_digest(
        csrf_token(csrf_key, session).encode(), (sent or "").encode())


class Authenticator:
    """Resolves keys and session cookies to users, caching them until the auth version
    changes, so each request is not a lookup."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # cache key ("k:"/"s:" + keyed hash) -> (monotonic deadline, wall-clock expiry, user)
        self._cache: dict[str, tuple[float, float, User]] = {}
        self._version: str | None = None
        self._lock = threading.Lock()
        #: The version read is cheap and never waits on SQLite (WAL readers do not block).
        self.check_on_event_loop = storage.db.is_sqlite

    def _sync_version(self) -> str:
        version = credentials.auth_version(self.storage)
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._version = version
        return version

    def _cache_key(self, conn: HTTPConnection) -> tuple[str, str, bool] | None:
        """(cache key, credential, is a session) of the request, or None without any."""
        header = conn.headers.get("authorization")
        if header is not None:
            key = key_from_header(header)
            if key is None:
                return None
            return "k:" + hash_api_key(self.storage.secret.pepper, key), key, False
        token = conn.cookies.get(SESSION_COOKIE)
        if token:
            return "s:" + hash_token(self.storage.secret.pepper, token), token, True
        return None

    def _hit(self, cache_key: str) -> User | None:
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is None or hit[0] <= time.monotonic() or hit[1] <= time.time():
            return None
        return hit[2]

    def cached_user(self, conn: HTTPConnection) -> Principal | None:
        """The caller when the cache knows them (after the auth-version check, done here
        only where it is cheap enough for the event loop); None means call
        :meth:`authenticate` in a worker thread."""
        if not self.check_on_event_loop:
            return None
        found = self._cache_key(conn)
        if found is None:
            return None
        self._sync_version()
        user = self._hit(found[0])
        if user is None:
            return None
        return Principal(user, found[1] if found[2] else None)

    def authenticate(self, conn: HTTPConnection) -> Principal:
        """The caller behind a request's credentials; Unauthenticated when missing or wrong.
        Reads the database (call it off the event loop)."""
        if conn.headers.get("authorization") is None and not conn.cookies.get(SESSION_COOKIE):
            raise Unauthenticated("missing API key: send HTTP basic auth with user 'api'")
        found = self._cache_key(conn)
        if found is None:
            raise Unauthenticated("invalid API key")
        cache_key, credential, is_session = found
        version = self._sync_version()
        user = self._hit(cache_key)
        if user is None:
            user, expires = self._lookup(credential, is_session)
            with self._lock:
                # Another request may have seen a newer version meanwhile (a revocation
                # this lookup may predate): then this answer is not kept.
                if self._version == version:
                    self._cache[cache_key] = (time.monotonic() + _CACHE_TTL_S, expires, user)
        return Principal(user, credential if is_session else None)

    def _lookup(self, credential: str, is_session: bool) -> tuple[User, float]:
        if is_session:
            found = credentials.session_user(self.storage, credential)
            if found is None:
                raise Unauthenticated("your session has ended: sign in again")
            return credentials.with_grants(self.storage, found[0]), found[1]
        user = credentials.user_for_key(self.storage, credential)
        if user is None:
            raise Unauthenticated("invalid API key")
        return credentials.with_grants(self.storage, user), float("inf")
