"""WANDB_MODE=offline, then ``wandb sync``: the server ends up with the same data as online.

The same script runs once online and once offline; after the sync both runs hold identical
history, config, summary, console and files. Running ``wandb sync`` again changes nothing.

(``--include-synced`` deliberately re-uploads: UpsertBucket then reports the run's true
``historyLineCount`` and the SDK appends after it, as it does against W&B itself.)
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import SdkEnv
from tests.e2e.storage_view import StoredRun, stored_run, user_keys

SCRIPT = """
import sys, wandb
run = wandb.init(project="offline", id=sys.argv[1], config={"lr": 0.3, "arch": {"depth": 4}},
                 tags=["sync"], group="g1", job_type="eval")
wandb.save("artifact.txt", policy="now")
for i in range(250):
    if i % 5 == 0:
        run.log({"side": i}, commit=False)
    run.log({"loss": 1.0 / (i + 1), "nested": {"i": i}})
run.summary["final"] = "yes"
print("offline-capable output")
run.finish()
"""


def _comparable(stored: StoredRun) -> dict[str, Any]:
    summary = {k: v for k, v in stored.summary.items() if not k.startswith("_")}
    files = {n: stored.blob_bytes[n] for n in ("artifact.txt",)}
    return {
        "history": [(r["_step"], user_keys(r)) for r in stored.history],
        "config": stored.config,
        "summary": summary,
        "console": stored.console,
        "tags": stored.run.tags,
        "group": stored.run.group,
        "job_type": stored.run.job_type,
        "state": stored.run.state,
        "exit_code": stored.run.exit_code,
        "files": files,
    }


def test_offline_then_sync_matches_online(sdk: SdkEnv) -> None:
    (sdk.workdir / "artifact.txt").write_bytes(b"offline bytes \x00\x01\x02\n" * 100)
    sdk.run(SCRIPT, args=("online01",))
    sdk.run(SCRIPT, args=("offline1",), extra_env={"WANDB_MODE": "offline"})
    run_dirs = list((sdk.workdir / "wandb").glob("offline-run-*-offline1"))
    assert len(run_dirs) == 1

    sdk.cli("sync", str(run_dirs[0]))
    online = stored_run(sdk.server, "admin", "offline", "online01")
    synced = stored_run(sdk.server, "admin", "offline", "offline1")
    assert len(synced.history) == 250
    assert _comparable(synced) == _comparable(online)

    sdk.cli("sync", str(run_dirs[0]))
    again = stored_run(sdk.server, "admin", "offline", "offline1")
    assert again.history == synced.history, "a second sync stores nothing twice"
    assert again.console_raw == synced.console_raw
    assert _comparable(again) == _comparable(online)
