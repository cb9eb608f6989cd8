"""Shared mode: four SDK processes write one run (``mode="shared"``, W&B's distributed
training mode). Every writer's rows, console lines and summary keys are kept, read back
through ``wandb.Api()`` while the run is live and after it is compacted."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.storage_view import stored_run
from tests.e2e.test_api_history import wait_for_export

WRITER = """
import sys, time, wandb
project, run_id, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = wandb.Settings(mode="shared", x_primary=rank == 0, x_label=f"rank{rank}",
                          x_update_finish_state=rank == 0)
run = wandb.init(project=project, id=run_id, settings=settings)
if rank == 0:
    open("primary.ready", "w").close()
for i in range(ROWS):
    run.log({f"loss_{rank}": rank * 1000 + i, "rank": rank})
print(f"writer {rank} done", flush=True)
run.summary[f"final_{rank}"] = rank
if rank == 0:
    while len(__import__("glob").glob("secondary.*.done")) < 3:
        time.sleep(0.2)
else:
    run.finish()
    open(f"secondary.{rank}.done", "w").close()
    sys.exit(0)
run.finish()
"""

ROWS = 25


def _start(sdk: SdkEnv, code: str, *args: str) -> subprocess.Popen[str]:
    script = sdk.workdir / "writer.py"
    if not script.exists():
        script.write_text(code)
    return subprocess.Popen([sys.executable, str(script), *args], cwd=sdk.workdir,
                            env=sdk.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_four_writers_share_one_run(api: Any, sdk: SdkEnv, live_server: LiveServer) -> None:
    project = f"shared-{uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:8]
    code = f"ROWS = {ROWS}\n" + WRITER
    primary = _start(sdk, code, project, run_id, "0")
    ready = sdk.workdir / "primary.ready"
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert primary.poll() is None, primary.communicate()
        assert time.monotonic() < deadline, "the primary writer did not start"
        time.sleep(0.2)
    others = [_start(sdk, code, project, run_id, str(rank)) for rank in (1, 2, 3)]
    for proc in [*others, primary]:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (out, err[-4000:])

    path = f"admin/{project}/{run_id}"

    def reads() -> None:
        api.flush()
        run = api.run(path)
        rows = list(run.scan_history())
        # Each writer counts its own steps; rows of one step merge into one row, as W&B
        # merges them, so every writer's value is there once per step.
        assert [r["_step"] for r in rows] == list(range(ROWS))
        for rank in range(4):
            assert [r[f"loss_{rank}"] for r in rows] == [rank * 1000 + i for i in range(ROWS)]
        assert all(r["rank"] in range(4) for r in rows)
        assert [r[f"loss_{rank}"] for rank in range(4)
                for r in run.history(keys=[f"loss_{rank}"], pandas=False)] == [
            rank * 1000 + i for rank in range(4) for i in range(ROWS)]
        assert {f"final_{rank}" for rank in range(4)} <= set(run.summary.keys())
        assert run.state == "finished"

    reads()
    wait_for_export(live_server, project, run_id, ROWS)
    reads()
    # The console lines of every writer were kept (each carries its writer's label).
    text = "\n".join(t for _, t in stored_run(live_server, "admin", project, run_id).console_raw)
    for rank in range(4):
        assert f"writer {rank} done" in text, text[-3000:]
