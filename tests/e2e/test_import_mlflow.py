"""``tracklet import-mlflow``: runs made by MLflow's own client against a real ``mlflow
server`` (in its own venv, as the benchmarks install it), imported, then read back through
``wandb.Api()``: params as config, every metric point by step, tags, notes, artifacts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from benchmarks.peers import peer_python, start_mlflow
from click.testing import CliRunner

from tests.e2e.conftest import make_api, start_server
from tracklet.cli import cli

FILL = """
import json, sys
import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("exp one")
ids = []
for name, scale in (("alpha", 1.0), ("beta", 2.0)):
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"lr": 0.01 * scale, "layers": 3})
        mlflow.set_tag("team", "vision")
        mlflow.set_tag("mlflow.note.content", "notes of " + name)
        for step in range(0, 60):
            mlflow.log_metric("loss", scale / (step + 1), step=step)
            if step % 10 == 0:
                mlflow.log_metric("acc", step / 100 * scale, step=step)
        with open(sys.argv[2] + "/" + name + ".txt", "w") as f:
            f.write("artifact of " + name + "\\n")
        mlflow.log_artifact(sys.argv[2] + "/" + name + ".txt", artifact_path="outputs")
        ids.append(run.info.run_id)
client = MlflowClient()
history = {i: {k: [(m.step, m.value) for m in client.get_metric_history(i, k)]
               for k in ("loss", "acc")} for i in ids}
print(json.dumps({"ids": ids, "history": history}))
"""


def test_import_mlflow_runs_metrics_params_and_artifacts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    py = peer_python("mlflow")
    mlflow_dir = tmp_path / "mlflow"
    mlflow_dir.mkdir()
    server = start_mlflow(py, mlflow_dir)
    try:
        script = tmp_path / "fill.py"
        script.write_text(FILL)
        proc = subprocess.run([str(py), str(script), server.url, str(tmp_path)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        made = json.loads(proc.stdout.strip().splitlines()[-1])
        args = ["import-mlflow", "--tracking-uri", server.url, "--experiment", "exp one",
                "--data-dir", str(tmp_path / "target")]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "2 runs (0 already here), 132 metric points in 120 history rows" in result.output
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0 and "0 runs (2 already here)" in again.output, \
            again.output
    finally:
        server.stop()

    target = start_server(tmp_path / "target")
    try:
        api = make_api(target, tmp_path / "api", monkeypatch)
        runs = {r.id: r for r in api.runs("admin/exp-one")}
        assert sorted(runs) == sorted(made["ids"])
        for run_id, name, scale in zip(made["ids"], ("alpha", "beta"), (1.0, 2.0),
                                       strict=True):
            run = runs[run_id]
            assert (run.name, run.state, run.notes) == (name, "finished", f"notes of {name}")
            assert run.tags == ["team=vision"]
            assert run.config == {"lr": str(0.01 * scale), "layers": "3"}
            rows = list(run.scan_history())
            assert [r["_step"] for r in rows] == list(range(60))
            for key in ("loss", "acc"):
                got = [(r["_step"], r[key]) for r in rows if r.get(key) is not None]
                assert got == [tuple(p) for p in made["history"][run_id][key]]
            assert run.summary["loss"] == scale / 60 and run.summary["acc"] == 0.5 * scale
            down = tmp_path / "down" / name
            run.file(f"outputs/{name}.txt").download(root=str(down), replace=True).close()
            assert (down / "outputs" / f"{name}.txt").read_text() == f"artifact of {name}\n"
    finally:
        target.stop()
