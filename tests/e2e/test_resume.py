"""Resuming runs with the real SDK: allow, must, auto and never, and the refused branchings.

A resumed run continues exactly where the first process stopped: history, events and console
offsets come from RunResumeStatus, so nothing is overwritten and nothing is doubled.
"""

from __future__ import annotations

from tests.e2e.conftest import SdkEnv
from tests.e2e.storage_view import opened, run_path, stored_run, user_keys
from tracklet.storage.metadata import runs as run_repo

FIRST = """
import wandb
run = wandb.init(project="resume", id="{run_id}", config={{"lr": 0.1, "nested": {{"a": 1}}}},
                 tags=["first"], notes="first notes")
for i in range(100):
    run.log({{"loss": 100 - i}})
print("first process line")
run.finish()
print("RUN", run.entity, run.project, run.id)
"""

SECOND = """
import wandb
run = wandb.init(project="resume", id="{run_id}", resume="{mode}", config={{"extra": True}})
for i in range(10):
    run.log({{"loss": -i}})
print("second process line")
run.finish()
print("RUN", run.entity, run.project, run.id)
"""


def _exists(sdk: SdkEnv, project: str, name: str) -> bool:
    with opened(sdk.server) as storage, storage.db.read() as conn:
        return run_repo.find_run_by_path(conn, "admin", project, name) is not None


def _check_resumed(sdk: SdkEnv, run_id: str, mode: str, api) -> None:  # type: ignore[no-untyped-def]
    sdk.run(FIRST.format(run_id=run_id))
    first = stored_run(sdk.server, "admin", "resume", run_id)
    proc = sdk.run(SECOND.format(run_id=run_id, mode=mode))
    assert run_path(proc) == ("admin", "resume", run_id)
    stored = stored_run(sdk.server, "admin", "resume", run_id)
    assert len(stored.history) == 110
    assert [r["_step"] for r in stored.history] == list(range(110))
    assert [user_keys(r) for r in stored.history] == (
        [{"loss": 100 - i} for i in range(100)] + [{"loss": -i} for i in range(10)]
    )
    assert stored.history[:100] == first.history, "first process' rows untouched"
    assert stored.config == {"lr": 0.1, "nested": {"a": 1}, "extra": True}
    assert list(stored.run.tags) == ["first"]
    assert stored.run.notes == "first notes"
    assert stored.console == ["first process line", "second process line"]
    assert len(stored.events) > len(first.events)
    assert stored.events[: len(first.events)] == first.events
    assert stored.summary["loss"] == -9 and stored.summary["_step"] == 109
    assert (stored.run.state, stored.run.exit_code) == ("finished", 0)
    run = api.run(f"admin/resume/{run_id}")
    assert run.config == {"lr": 0.1, "nested": {"a": 1}, "extra": True}
    assert run.summary["loss"] == -9


def test_resume_allow_continues_existing_run(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    _check_resumed(sdk, "resallow1", "allow", api)


def test_resume_must_continues_existing_run(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    _check_resumed(sdk, "resmust01", "must", api)


def test_resume_allow_of_unknown_id_creates_it(sdk: SdkEnv) -> None:
    assert not _exists(sdk, "resume", "resnew001")
    sdk.run(SECOND.format(run_id="resnew001", mode="allow"))
    stored = stored_run(sdk.server, "admin", "resume", "resnew001")
    assert [user_keys(r) for r in stored.history] == [{"loss": -i} for i in range(10)]
    assert stored.config == {"extra": True}


def test_resume_must_of_unknown_id_is_a_user_error(sdk: SdkEnv) -> None:
    proc = sdk.run(SECOND.format(run_id="resnone01", mode="must"), expect_rc=None)
    assert proc.returncode != 0
    assert "resnone01" in proc.stderr and "must" in proc.stderr
    assert not _exists(sdk, "resume", "resnone01")


def test_resume_never_of_existing_run_fails_and_keeps_it(sdk: SdkEnv) -> None:
    sdk.run(FIRST.format(run_id="resnever1"))
    before = stored_run(sdk.server, "admin", "resume", "resnever1")
    proc = sdk.run(SECOND.format(run_id="resnever1", mode="never"), expect_rc=None)
    assert proc.returncode != 0
    assert "never" in proc.stderr
    after = stored_run(sdk.server, "admin", "resume", "resnever1")
    assert after.history == before.history
    assert after.run.config == before.run.config
    assert (after.run.state, after.run.summary) == (before.run.state, before.run.summary)


def test_resume_auto_picks_up_a_failed_run(sdk: SdkEnv) -> None:
    code = """
        import sys, wandb
        run = wandb.init(project="resume-auto", resume="auto")
        print("RUN", run.entity, run.project, run.id, flush=True)
        base = 0 if sys.argv[1] == "fail" else 100
        for i in range(5):
            run.log({"v": base + i})
        if sys.argv[1] == "fail":
            raise SystemExit(2)
        run.finish()
        """
    first = sdk.run(code, args=("fail",), expect_rc=2)
    second = sdk.run(code, args=("ok",))
    assert run_path(first) == run_path(second)
    stored = stored_run(sdk.server, *run_path(second))
    assert [user_keys(r) for r in stored.history] == (
        [{"v": i} for i in range(5)] + [{"v": 100 + i} for i in range(5)]
    )
    assert [r["_step"] for r in stored.history] == list(range(10))
    assert stored.run.state == "finished"
