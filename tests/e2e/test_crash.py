"""kill -9 of a server while runs stream and finished runs are being compacted; a new server
on the same data: every row stored exactly once, every run compacted, and garbage
collection removes only what nothing references (an export the kill left half-done)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import LiveServer, start_server
from tests.e2e.http_writer import UPSERT, sdk_json
from tracklet.config import Settings
from tracklet.storage import Storage, blob_gc
from tracklet.storage.history.export.table import get_exports
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo

RUNS, BATCHES, ROWS = 6, 30, 200


class Target:
    """The server writers talk to; swapped when the server is replaced."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.lock = threading.Lock()

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        """POST until a server answers 2xx (a dead one, a restart: retried, as the SDK
        does)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with self.lock:
                server = self.server
            try:
                r = httpx.post(server.url + path, json=body, auth=("api", server.key),
                               timeout=30)
                if r.status_code < 300:
                    answer: dict[str, object] = r.json()
                    return answer
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"no server answered {path}")


def _write(target: Target, name: str, sent: list[int]) -> None:
    target.post("/graphql", {"query": UPSERT, "variables": {"name": name, "project": "crash",
                                                            "entity": "admin"}})
    for b in range(BATCHES):
        lines = [sdk_json({"_step": s, "v": s * 3 + len(name)})
                 for s in range(b * ROWS, (b + 1) * ROWS)]
        target.post(f"/files/admin/crash/{name}/file_stream",
                    {"files": {"wandb-history.jsonl": {"offset": b * ROWS, "content": lines}}})
        sent[0] += ROWS
    target.post(f"/files/admin/crash/{name}/file_stream",
                {"files": {}, "complete": True, "exitcode": 0})


def test_kill_9_while_streaming_and_compacting(tmp_path: Path) -> None:
    env = {"TRACKLET_HISTORY_COMPACTION_INTERVAL_S": "0.1"}
    data = tmp_path / "data"
    target = Target(start_server(data, env=env))
    sent = [[0] for _ in range(RUNS)]
    writers = [threading.Thread(target=_write, args=(target, f"r{i}", sent[i]))
               for i in range(RUNS)]
    try:
        for w in writers:
            w.start()
        total = RUNS * BATCHES * ROWS
        while sum(s[0] for s in sent) < total // 2:
            time.sleep(0.05)
        target.server.process.kill()  # SIGKILL: no shutdown, no flush
        target.server.process.wait()
        replacement = start_server(data, env=env)
        with target.lock:
            target.server = replacement
        for w in writers:
            w.join(timeout=300)
        assert not any(w.is_alive() for w in writers)

        store = Storage.open(Settings(data_dir=data), migrate=False)
        try:
            deadline = time.monotonic() + 120
            while True:
                with store.db.read() as conn:
                    pending = compaction_queue.pending(conn)
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert pending == []
            with store.db.read() as conn:
                ids = {f"r{i}": run_repo.get_run_by_path(conn, "admin", "crash", f"r{i}").id
                       for i in range(RUNS)}
            for name, run_id in ids.items():
                with store.db.read() as conn:
                    assert get_exports(conn, run_id), f"{name} compacted"
                with open_history(store, run_id) as view:
                    rows = [(r.step, r.data["v"]) for r in view.rows()]
                assert rows == [(s, s * 3 + len(name))
                                for s in range(BATCHES * ROWS)], name
            # What the kill interrupted (an export blob written, its row never committed)
            # is collected; nothing a row names is.
            report = blob_gc.collect(store, grace_s=0)
            assert all(k.startswith("history/") for k in report.keys)
            with store.db.read() as conn:
                referenced, _ = blob_gc.referenced_keys(conn)
            assert all(store.blobs.exists(k) for k in referenced)
            assert {b.key for b in store.blobs.listing("history/")} <= referenced
            for run_id in ids.values():
                with open_history(store, run_id) as view:
                    assert sum(1 for _ in view.rows()) == BATCHES * ROWS
        finally:
            store.close()
    finally:
        target.server.stop()
