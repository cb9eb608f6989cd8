"""Per-caller limits, kept in each server process's memory:

* :class:`SignInLimiter`: failed sign-ins per (username, client address) in a sliding
  window; past the limit, sign-in answers 429 with Retry-After until the oldest failure
  leaves the window (a success clears the count), so a password cannot be guessed at speed
  while other users and addresses sign in as usual.
* :class:`UserConcurrency`: GraphQL requests one user has in flight; past the limit the
  next one answers 429 with Retry-After at once (the SDK retries it), so one user's burst
  of heavy queries cannot hold every worker thread while others wait.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tracklet.errors import RateLimited


class SignInLimiter:
    """At most ``attempts`` failed sign-ins per key within ``window_s`` seconds."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[tuple[str, str], collections.deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> collections.deque[float]:
        failures = self._failures.setdefault(key, collections.deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def check(self, username: str, address: str) -> None:
        """RateLimited when this username has failed too often from this address."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent((username, address), now)
            if len(failures) >= self.attempts:
                wait = failures[0] + self.window_s - now
                raise RateLimited(
                    f"too many failed sign-ins for {username!r} from this address: try "
                    f"again in {math.ceil(wait)} s", retry_after=wait)

    def failed(self, username: str, address: str) -> None:
        """Count a failed sign-in."""
        now = time.monotonic()
        with self._lock:
            self._recent((username, address), now).append(now)
            if len(self._failures) > 100_000:  # forget the quiet ones, bounded memory
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, username: str, address: str) -> None:
        """Clear the count after a successful sign-in."""
        with self._lock:
            self._failures.pop((username, address), None)


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
