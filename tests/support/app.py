"""The ASGI app in process: ``create_app`` over a real Storage, driven through httpx.

Everything that does not need the real wandb SDK talks to the app this way (no server
subprocess, no port): GraphQL, file_stream, the REST endpoints, bad-input checks. Starlette's
``TestClient`` is an httpx client whose transport calls the ASGI app, and it runs the
app's lifespan, so the app is exactly what ``tracklet server`` serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from starlette.testclient import TestClient

from tracklet.config import Settings
from tracklet.server.app import create_app
from tracklet.storage import Storage

ADMIN_KEY = "local-" + "app0" * 10 + "abcd"


@dataclass
class InProcessApp:
    """A running app: an authenticated client (as ``admin``), its store and key."""

    client: TestClient
    storage: Storage
    key: str
    settings: Settings

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL document; the whole response body (errors included)."""
        response = self.client.post("/graphql",
                                    json={"query": query, "variables": variables or {}})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def in_process_app(settings: Settings) -> Iterator[InProcessApp]:
    """Open (and migrate) the store ``settings`` name, register the admin key, and serve
    the app in process. Background work stays out of the way of what a test counts or
    compares: compaction is off (tests compact when they choose) and the crash sweep runs
    hourly (tests/e2e/test_lifecycle.py covers it against a real server)."""
    settings = replace(settings, history_compaction_interval_s=0, crash_check_interval_s=3600)
    storage = Storage.open(settings)
    try:
        storage.bootstrap_admin(ADMIN_KEY)
        with TestClient(create_app(settings, storage), base_url="http://testserver",
                        raise_server_exceptions=True) as client:
            client.auth = ("api", ADMIN_KEY)
            yield InProcessApp(client, storage, ADMIN_KEY, settings)
    finally:
        storage.close()
