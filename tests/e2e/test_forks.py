"""``fork_from`` and ``resume_from`` (rewind) with the real SDK: the fork starts with its
parent's history up to the fork step and records its parent; a rewound run loses the rows
after the step and goes on from there; both read back live and after compaction. A fork of
a missing run fails with a message the SDK shows."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.storage_view import stored_run
from tests.e2e.test_api_history import wait_for_export

PARENT = """
import sys, wandb
run = wandb.init(project=sys.argv[1], id=sys.argv[2])
for i in range(10):
    run.log({"loss": 10 - i, "parent_only": i})
run.finish()
"""

FORK = """
import sys, wandb
run = wandb.init(project=sys.argv[1], id=sys.argv[3], fork_from=f"{sys.argv[2]}?_step=4")
for i in range(3):
    run.log({"loss": 100 + i})
run.finish()
"""


def test_fork_starts_with_the_parents_history(api: Any, sdk: SdkEnv,
                                              live_server: LiveServer) -> None:
    project = f"forks-{uuid.uuid4().hex[:6]}"
    parent, child = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    sdk.run(PARENT, args=(project, parent))
    sdk.run(FORK, args=(project, parent, child))
    want = [{"_step": i, "loss": 10 - i, "parent_only": i} for i in range(5)] + [
        {"_step": 5 + i, "loss": 100 + i} for i in range(3)]

    def reads() -> None:
        api.flush()
        run = api.run(f"admin/{project}/{child}")
        rows = [{k: v for k, v in r.items() if k in ("_step", "loss", "parent_only")
                 and v is not None} for r in run.scan_history()]
        assert rows == want
        assert [r["loss"] for r in run.history(keys=["loss"], pandas=False)] == [
            r["loss"] for r in want]
        assert run.summary["loss"] == 102
        # The parent is untouched.
        assert len(list(api.run(f"admin/{project}/{parent}").scan_history())) == 10

    reads()
    wait_for_export(live_server, project, child, 8)
    reads()
    config = json.loads(stored_run(live_server, "admin", project, child).run.config or "{}")
    assert config["_wandb"]["value"]["branch_point"] == {"run_id": parent, "step": 4}


def test_fork_of_a_missing_run_fails_clearly(sdk: SdkEnv) -> None:
    project = f"forks-{uuid.uuid4().hex[:6]}"
    proc = sdk.run(FORK, args=(project, "nosuchrun", uuid.uuid4().hex[:8]), expect_rc=None)
    assert proc.returncode != 0
    assert "fork_from: run 'nosuchrun' not found" in proc.stdout + proc.stderr


REWIND = """
import sys, wandb
point = f"{sys.argv[2]}?_step={sys.argv[3]}"
run = wandb.init(project=sys.argv[1], id=sys.argv[2], resume_from=point)
for i in range(3):
    run.log({"loss": 100 + i})
run.finish()
"""


def test_resume_from_rewinds_on_every_tier(api: Any, sdk: SdkEnv,
                                           live_server: LiveServer) -> None:
    project = f"rewind-{uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:8]
    sdk.run(PARENT, args=(project, run_id))
    wait_for_export(live_server, project, run_id, 10)  # the rows to cut sit in Parquet
    sdk.run(REWIND, args=(project, run_id, "4"))
    first = [{"_step": i, "loss": 10 - i, "parent_only": i} for i in range(5)] + [
        {"_step": 5 + i, "loss": 100 + i} for i in range(3)]

    def reads(want: list[dict[str, Any]]) -> None:
        api.flush()
        run = api.run(f"admin/{project}/{run_id}")
        rows = [{k: v for k, v in r.items() if k in ("_step", "loss", "parent_only")
                 and v is not None} for r in run.scan_history()]
        assert rows == want
        assert run.summary["loss"] == want[-1]["loss"]
        assert run.lastHistoryStep == want[-1]["_step"]

    reads(first)
    wait_for_export(live_server, project, run_id, 8)
    reads(first)
    # Rewinding again into rows that are live or freshly exported: cut at step 6.
    sdk.run(REWIND, args=(project, run_id, "6"))
    second = first[:7] + [{"_step": 7 + i, "loss": 100 + i} for i in range(3)]
    reads(second)
    wait_for_export(live_server, project, run_id, 10)
    reads(second)
