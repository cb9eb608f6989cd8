"""``tracklet sync``: upload runs from their journals (offline runs, or online runs whose
server was unreachable), keeping their ids. What the server confirmed is recorded beside
each journal, so a sync interrupted halfway and run again sends every row exactly once, and
a second sync of a synced run sends nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tracklet.client import journal as jr
from tracklet.client.credentials import Credentials
from tracklet.client.locking import RunLock
from tracklet.client.sender import Sender
from tracklet.client.uploader import SummaryState
from tracklet.client.wire import Connection, WireError


@dataclass(frozen=True)
class RunSync:
    """What syncing one run directory did. ``rows`` is how many history rows were sent
    (0 when it was already synced); ``error`` is None on success."""

    path: Path
    run_id: str
    rows: int
    finished: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run is now on the server as far as its journal goes."""
        return self.error is None


def find_runs(root: Path) -> list[Path]:
    """Run directories (holding a journal) at or under ``root``, sorted."""
    if (root / jr.JOURNAL_NAME).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(jr.JOURNAL_NAME) if p.is_file())


def is_synced(run_dir: Path) -> bool:
    """Whether the server confirmed every journaled row (and the end, if the run ended)."""
    try:
        replay = jr.replay(run_dir / jr.JOURNAL_NAME)
    except (OSError, ValueError):
        return False
    state_path = run_dir / "upload.json"
    try:
        state = json.loads(state_path.read_text())
    except (FileNotFoundError, ValueError):
        return False
    return (state.get("acked") == len(replay.history)
            and state.get("console_acked", 0) == len(replay.console)
            and set(replay.files) <= set(state.get("uploaded") or ())
            and state.get("alerts_sent", 0) >= len(replay.alerts)
            and state.get("artifacts_done", 0) >= len(replay.artifacts)
            and (not replay.finished or bool(state.get("complete"))))


def sync_run(run_dir: Path, credentials: Credentials, dry_run: bool = False,
             progress: Callable[[int, int], None] | None = None) -> RunSync:
    """Upload what the server lacks of the run in ``run_dir``. ``progress(sent, total)`` is
    called after every acknowledged post."""
    path = run_dir / jr.JOURNAL_NAME
    try:
        replay = jr.replay(path)
    except (OSError, ValueError) as exc:
        return RunSync(run_dir, run_dir.name, 0, False, f"unreadable journal: {exc}")
    run_id = str(replay.run["id"])
    lock = RunLock.try_acquire(run_dir)
    if lock is None:
        return RunSync(run_dir, run_id, 0, replay.finished,
                       "the run is still being logged by another process")
    try:
        sender = Sender(Connection(credentials.base_url, credentials.api_key), run_dir,
                        replay.run)
        total = len(replay.history)
        todo = total - sender.acked
        console_done = sender.console_acked >= len(replay.console)
        files_done = set(replay.files) <= sender.uploaded
        alerts_done = (sender.alerts_sent >= len(replay.alerts)
                       and sender.artifacts_done >= len(replay.artifacts))
        if dry_run or (todo == 0 and files_done and console_done and alerts_done
                       and (sender.complete or not replay.finished)
                       and sender.address is not None):
            return RunSync(run_dir, run_id, 0 if not dry_run else todo, replay.finished)
        before = sender.acked
        try:
            sender.upsert(replay.config)
            history = sender.shifted(replay.history)
            summary = SummaryState()
            summary.last.update(sender.resumed_summary)
            for line in history:
                summary.add_row(json.loads(line))
            summary.explicit.update(replay.summary)
            sender.upload_files(replay.files)
            sender.send_artifacts(replay.artifacts, len(replay.artifacts))
            sender.send_alerts(replay.alerts, len(replay.alerts))
            while not sender.post(history, total, summary.line(), replay.exit_code,
                                  replay.console, len(replay.console)):
                if progress is not None:
                    progress(sender.acked, total)
        except WireError as exc:
            return RunSync(run_dir, run_id, sender.acked - before, replay.finished, str(exc))
        if progress is not None:
            progress(sender.acked, total)
        return RunSync(run_dir, run_id, sender.acked - before, replay.finished)
    finally:
        lock.release()
