"""Who is behind a request's credentials: an API key, as HTTP Basic ``api:<key>`` (as the SDK
sends it) or ``Authorization: Bearer <key>``.

Every ``Access.USER`` route resolves its caller here, through the route guard in
:mod:`tracklet.server.access`, so another kind of credential (a browser session cookie) is
added to :meth:`Authenticator.cached_user` and :meth:`Authenticator.authenticate` only.
"""

from __future__ import annotations

import base64
import threading
import time

from starlette.requests import HTTPConnection

from tracklet.domain.keys import hash_api_key
from tracklet.domain.records import User
from tracklet.errors import Unauthenticated
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts

_CACHE_TTL_S = 30.0


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


class Authenticator:
    """Resolves keys to users, with a short cache so each request is not a DB round trip."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._cache: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def user_for_key(self, key: str) -> User:
        """The user owning ``key``; Unauthenticated when nobody does."""
        digest = hash_api_key(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.storage.db.read() as conn:
            user = accounts.user_by_key_hash(conn, digest)
        if user is None:
            raise Unauthenticated("invalid API key")
        with self._lock:
            self._cache[digest] = (now + _CACHE_TTL_S, user)
        return user

    def cached_user(self, conn: HTTPConnection) -> User | None:
        """The user behind a request's credentials when the cache knows them (no DB read,
        so callable on the event loop); None means call :meth:`authenticate`."""
        key = key_from_header(conn.headers.get("authorization"))
        if key is None:
            return None
        with self._lock:
            hit = self._cache.get(hash_api_key(key))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def authenticate(self, conn: HTTPConnection) -> User:
        """The user behind a request's credentials; Unauthenticated when missing or wrong."""
        key = key_from_header(conn.headers.get("authorization"))
        if key is None:
            raise Unauthenticated("missing API key: send HTTP basic auth with user 'api'")
        return self.user_for_key(key)
