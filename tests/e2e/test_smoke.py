"""The README's promise in one test: log with the SDK, read back with wandb.Api()."""

from __future__ import annotations

from tests.e2e.conftest import SdkEnv


def test_init_log_finish_read_back(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="smoke", config={"lr": 0.5}, tags=["t1"])
        for i in range(10):
            run.log({"loss": 1.0 / (i + 1)})
        run.finish()
        print("RUN", run.entity, run.id)
        """
    )
    entity, run_id = proc.stdout.split("RUN ")[1].split()
    run = api.run(f"{entity}/smoke/{run_id}")
    assert run.state == "finished"
    assert run.config == {"lr": 0.5}
    assert run.tags == ["t1"]
    assert run.summary["loss"] == 0.1
