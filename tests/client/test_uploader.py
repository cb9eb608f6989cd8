"""The uploader's bounded queue: when it is full, log() waits for the journal instead of
dropping rows."""

from __future__ import annotations

from pathlib import Path

import tracklet
from tests.client.helpers import journal_rows


def test_a_full_queue_makes_log_wait_and_drops_nothing(tmp_path: Path) -> None:
    run = tracklet.init("bp", mode="offline", dir=tmp_path)
    uploader = run._uploader
    assert uploader is not None
    uploader.max_queue = 8
    longest = 0
    for i in range(5000):
        run.log({"v": i})
        longest = max(longest, len(uploader.queue))
    run.finish()
    assert longest <= 8
    assert run.dir is not None
    assert [r["v"] for r in journal_rows(run.dir)] == list(range(5000))
