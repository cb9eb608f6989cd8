"""Per-caller limits:

* :class:`SignInLimiter`: failed sign-ins per (username, client address) in a sliding
  window, counted in the database (shared by every server process); past the limit,
  sign-in answers 429 with Retry-After until the oldest failure leaves the window (a
  success clears the count), so a password cannot be guessed at speed while other users
  and addresses sign in as usual.
* :class:`UserConcurrency`: GraphQL requests one user has in flight in this process; past
  the limit the next one answers 429 with Retry-After at once (the SDK retries it), so one
  user's burst of heavy queries cannot hold every worker thread while others wait.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tracklet.errors import RateLimited
from tracklet.storage.metadata import sign_ins
from tracklet.storage.metadata.engine import Database


class SignInLimiter:
    """At most ``attempts`` failed sign-ins per key within ``window_s`` seconds, counted in
    the database so that every server process of a deployment shares one count."""

    def __init__(self, db: Database, attempts: int, window_s: float) -> None:
        self.db = db
        self.attempts = attempts
        self.window_s = window_s

    def check(self, username: str, address: str) -> None:
        """RateLimited when this username has failed too often from this address."""
        now = time.time()
        with self.db.read() as conn:
            count, oldest = sign_ins.failures_since(conn, username, address,
                                                    now - self.window_s)
        if count >= self.attempts and oldest is not None:
            wait = max(oldest + self.window_s - now, 0.0)
            raise RateLimited(
                f"too many failed sign-ins for {username!r} from this address: try "
                f"again in {max(1, math.ceil(wait))} s", retry_after=wait)

    def failed(self, username: str, address: str) -> None:
        """Count a failed sign-in."""
        now = time.time()
        with self.db.write() as conn:
            sign_ins.record_failure(conn, username, address, now, now - self.window_s)

    def succeeded(self, username: str, address: str) -> None:
        """Clear the count after a successful sign-in."""
        with self.db.write() as conn:
            sign_ins.clear(conn, username, address)


class UserConcurrency:
    """At most ``limit`` requests in flight per user id."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: collections.Counter[int] = collections.Counter()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        """Hold one of the user's slots for the body; RateLimited when none is free."""
        with self._lock:
            if self._in_flight[user_id] >= self.limit:
                raise RateLimited(
                    f"you have {self.limit} GraphQL requests in flight already "
                    "(graphql_max_concurrent_per_user): retry when one has finished",
                    retry_after=1.0)
            self._in_flight[user_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[user_id] -= 1
                if self._in_flight[user_id] <= 0:
                    del self._in_flight[user_id]
