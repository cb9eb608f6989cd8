"""``fork_from`` with the real SDK: the fork starts with its parent's history up to the
fork step, records its parent, and is read back live and after compaction; a fork of a
missing run and ``resume_from`` fail with a message the SDK shows."""

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


def test_fork_of_a_missing_run_and_resume_from_fail_clearly(sdk: SdkEnv) -> None:
    project = f"forks-{uuid.uuid4().hex[:6]}"
    proc = sdk.run(FORK, args=(project, "nosuchrun", uuid.uuid4().hex[:8]), expect_rc=None)
    assert proc.returncode != 0
    assert "fork_from: run 'nosuchrun' not found" in proc.stdout + proc.stderr
    run_id = uuid.uuid4().hex[:8]
    sdk.run(PARENT, args=(project, run_id))
    proc = sdk.run("""
        import sys, wandb
        wandb.init(project=sys.argv[1], id=sys.argv[2], resume_from=f"{sys.argv[2]}?_step=3")
    """, args=(project, run_id), expect_rc=None)
    assert proc.returncode != 0
    assert "resume_from (rewinding a run to an earlier step) is not supported" in (
        proc.stdout + proc.stderr)
