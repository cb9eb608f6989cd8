"""Sweeps with the real wandb CLI and SDK against a live server acting as the controller:
``wandb sweep`` / ``wandb agent`` subprocesses, ``wandb.sweep`` + ``wandb.agent(function=)``,
two agents at once, pause/resume/stop/cancel, run_cap, ``api.sweep(path).best_run()``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import LiveServer, sdk_environment

TRAIN = """\
import math, time, wandb
run = wandb.init()
c = run.config
for step in range(int(c.get("steps", 1))):
    run.log({"loss": (c.x - 1) ** 2 + c.get("y", 0) + 1.0 / (step + 1)})
    time.sleep(float(c.get("pause", 0)))
run.finish()
"""


class Sweeper:
    """The CLI and SDK in a workdir whose code directory is apart from WANDB_DIR (the agent
    writes ``wandb/`` there, which would shadow the package for the training script)."""

    def __init__(self, server: LiveServer, workdir: Path) -> None:
        self.server = server
        self.code = workdir / "code"
        self.code.mkdir(parents=True)
        (self.code / "train.py").write_text(TRAIN)
        self.env = sdk_environment(server, workdir)
        bin_dir = str(Path(sys.executable).parent)
        self.env.update({"WANDB_SILENT": "false", "PATH": f"{bin_dir}:{self.env['PATH']}",
                         "WANDB_PROJECT": "hpo", "WANDB_ENTITY": "admin"})
        self.wandb = str(Path(bin_dir) / "wandb")

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``wandb *args``; fails the test on a non-zero exit."""
        proc = subprocess.run([self.wandb, *args], cwd=self.code, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr[-5000:])
        return proc

    def create(self, config: dict[str, Any]) -> tuple[str, str]:
        """``wandb sweep config.yaml``: the sweep id and the output."""
        (self.code / "sweep.yaml").write_text(yaml.safe_dump({"program": "train.py", **config}))
        out = self.cli("sweep", "sweep.yaml").stderr
        line = next(x for x in out.splitlines() if "Creating sweep with ID:" in x)
        return line.rsplit(" ", 1)[-1].strip().replace("\x1b[33m", "").replace("\x1b[0m", ""), out

    def agent(self, sweep: str, *args: str) -> subprocess.Popen[str]:
        """``wandb agent`` in the background."""
        return subprocess.Popen([self.wandb, "agent", *args, sweep], cwd=self.code,
                                env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def sweeper(live_server: LiveServer, tmp_path: Path) -> Sweeper:
    return Sweeper(live_server, tmp_path)


def _wait(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"agent did not exit:\n{out[-5000:]}") from None
    assert proc.returncode == 0, out[-5000:]
    return out


def _configs(sweep: Any) -> list[tuple[Any, ...]]:
    return sorted((r.config["x"], r.config["y"]) for r in sweep.runs)


def _live(server: LiveServer, sweep: str) -> tuple[str, list[tuple[str, str]]]:
    """The sweep's state and its runs' (name, state), fresh from the server (``wandb.Api``
    caches the sweeps it has loaded)."""
    body = httpx.post(f"{server.url}/graphql", auth=("api", server.key), timeout=30, json={
        "query": """query S($name: String!) { project(name: "hpo", entityName: "admin") {
            sweep(sweepName: $name) { state runs { edges { node { name state } } } } } }""",
        "variables": {"name": sweep}}).json()
    data = body["data"]["project"]["sweep"]
    return data["state"], [(e["node"]["name"], e["node"]["state"])
                           for e in data["runs"]["edges"]]


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _until(check: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(1)


GRID = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0, 1, 2]}, "y": {"values": [0, 5]}}}


#: The issue's 12-run grid: 3 x 2 x 2 points, a categorical among them.
GRID12 = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
          "parameters": {"x": {"values": [0, 1, 2]}, "y": {"values": [0, 5]},
                         "opt": {"values": ["adam", "sgd"]}}}


def test_cli_grid_sweep_runs_every_point_once(sweeper: Sweeper, api: Any) -> None:
    command = ["${env}", "${interpreter}", "${program}", "${args_no_hyphens}"]
    sweep_id, out = sweeper.create({**GRID12, "command": command})
    url = f"{sweeper.server.url}/admin/hpo/sweeps/{sweep_id}"
    assert url in out
    assert httpx.get(url).status_code == 200
    agent = sweeper.agent(sweep_id)
    try:
        log = _wait(agent)  # no --count: the agent exits when the grid is done
    finally:
        _stop(agent)
    # The sweep's command, its args without hyphens.
    assert "python train.py opt=sgd x=1 y=5" in log, log[-3000:]
    sweep = api.sweep(f"admin/hpo/{sweep_id}")
    # Each run's config is one grid point, and every point ran exactly once.
    points = sorted((r.config["x"], r.config["y"], r.config["opt"]) for r in sweep.runs)
    assert points == sorted((x, y, o) for x in (0, 1, 2) for y in (0, 5)
                            for o in ("adam", "sgd"))
    assert sweep.state == "FINISHED"
    assert sweep.expected_run_count == 12
    assert sweep.config["parameters"] == GRID12["parameters"]
    best = sweep.best_run()
    assert (best.config["x"], best.config["y"]) == (1, 0)
    worst = sweep.best_run(order="-summary_metrics.loss")
    assert (worst.config["x"], worst.config["y"]) in ((0, 5), (2, 5))
    assert all(r.sweep_name == sweep_id and r.state == "finished" for r in sweep.runs)


def test_two_agents_share_a_grid(sweeper: Sweeper, api: Any) -> None:
    sweep_id, _ = sweeper.create(GRID)
    agents = [sweeper.agent(sweep_id), sweeper.agent(sweep_id)]
    try:
        for proc in agents:
            _wait(proc)
    finally:
        for proc in agents:
            _stop(proc)
    sweep = api.sweep(f"admin/hpo/{sweep_id}")
    assert _configs(sweep) == [(x, y) for x in (0, 1, 2) for y in (0, 5)]
    agent_runs = sorted(a.totalRuns for a in sweep.agents())
    assert sum(agent_runs) == 6 and len(agent_runs) == 2


def test_sdk_sweep_and_function_agent_respect_run_cap(sweeper: Sweeper) -> None:
    code = """
import json, wandb
config = {"method": "random", "run_cap": 7, "metric": {"name": "loss"},
          "parameters": {"x": {"distribution": "uniform", "min": -2.0, "max": 2.0},
                         "y": {"distribution": "int_uniform", "min": 0, "max": 3}}}
sweep_id = wandb.sweep(config, project="hpo")
def train():
    run = wandb.init()
    run.log({"loss": (run.config.x - 1) ** 2 + run.config.y})
    run.finish()
wandb.agent(sweep_id, function=train, count=10)
sweep = wandb.Api().sweep(f"admin/hpo/{sweep_id}")
print("RESULT", json.dumps({"id": sweep_id, "state": sweep.state,
      "runs": [dict(r.config) for r in sweep.runs], "best": dict(sweep.best_run().config),
      "losses": [r.summary["loss"] for r in sweep.runs]}))
"""
    script = sweeper.code / "drive.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], cwd=sweeper.code, env=sweeper.env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "Sweep URL:" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert len(result["runs"]) == 7  # the agent would have run 10: the cap stopped it
    assert all(-2 <= r["x"] <= 2 and r["y"] in (0, 1, 2, 3) for r in result["runs"])
    best_loss = (result["best"]["x"] - 1) ** 2 + result["best"]["y"]
    assert best_loss == pytest.approx(min(result["losses"]))
    assert result["state"] == "FINISHED"


def test_pause_resume_stop(sweeper: Sweeper, api: Any) -> None:
    sweep_id, _ = sweeper.create({"method": "random", "parameters": {
        "x": {"values": [0, 1]}, "y": {"value": 0}, "steps": {"value": 3}}})
    path = f"admin/hpo/{sweep_id}"
    server = sweeper.server
    sweeper.cli("sweep", "--pause", path)
    assert _live(server, sweep_id) == ("PAUSED", [])
    agent = sweeper.agent(sweep_id)
    try:
        time.sleep(12)  # two heartbeats: a paused sweep hands out nothing
        assert _live(server, sweep_id) == ("PAUSED", [])
        sweeper.cli("sweep", "--resume", path)
        _until(lambda: len(_live(server, sweep_id)[1]) >= 1)
        sweeper.cli("sweep", "--stop", path)
        _wait(agent, timeout=120)
    finally:
        _stop(agent)
    state, runs = _live(server, sweep_id)
    assert state == "FINISHED"
    assert 1 <= len(runs) <= 2
    assert all(s == "finished" for _, s in runs)
    assert api.sweep(path).state == "FINISHED"


def test_cancel_kills_the_running_run(sweeper: Sweeper, api: Any) -> None:
    sweep_id, _ = sweeper.create({"method": "random", "parameters": {
        "x": {"values": [0]}, "y": {"value": 0}, "steps": {"value": 300},
        "pause": {"value": 0.5}}})
    path = f"admin/hpo/{sweep_id}"
    server = sweeper.server
    agent = sweeper.agent(sweep_id)
    try:
        _until(lambda: [s for _, s in _live(server, sweep_id)[1]] == ["running"])
        started = time.monotonic()
        sweeper.cli("sweep", "--cancel", path)
        _wait(agent, timeout=120)
        assert time.monotonic() - started < 100  # well before its 150 s of steps
    finally:
        _stop(agent)
    _until(lambda: _live(server, sweep_id)[1][0][1] != "running", 60)
    state, [(name, run_state)] = _live(server, sweep_id)
    assert state == "CANCELED"
    assert run_state in ("killed", "failed", "crashed")
    assert api.run(f"admin/hpo/{name}").history_keys.get("lastStep", -1) < 299


def test_bad_sweep_config_gets_a_clear_error(sweeper: Sweeper) -> None:
    (sweeper.code / "bad.yaml").write_text(
        "program: train.py\nmethod: bayes\nparameters:\n  x: {min: 0.0, max: 1.0}\n")
    proc = subprocess.run([sweeper.wandb, "sweep", "bad.yaml"], cwd=sweeper.code,
                          env=sweeper.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "the bayes method needs a metric" in proc.stdout + proc.stderr


def test_run_alerts_are_stored_and_rate_limited(sweeper: Sweeper, live_server: LiveServer,
                                                api: Any) -> None:
    code = """
import wandb
run = wandb.init(project="alerts", id="alerting")
run.alert(title="loss high", text="loss is 9", level=wandb.AlertLevel.WARN, wait_duration=300)
run.alert(title="loss high", text="loss is 10", wait_duration=300)
run.alert(title="done", text="all good")
run.finish()
"""
    script = sweeper.code / "alerts.py"
    script.write_text(code)
    env = {**sweeper.env, "WANDB_SILENT": "true"}
    proc = subprocess.run([sys.executable, str(script)], cwd=sweeper.code, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    run = api.run("admin/alerts/alerting")
    body = httpx.post(f"{live_server.url}/graphql", auth=("api", live_server.key), json={
        "query": """query { project(name: "alerts", entityName: "admin") {
            run(name: "alerting") { alerts { title text severity waitDuration } } } }"""},
        timeout=30).json()
    alerts = body["data"]["project"]["run"]["alerts"]
    assert [(a["title"], a["text"], a["severity"]) for a in alerts] == [
        ("loss high", "loss is 9", "WARN"), ("done", "all good", "INFO")]
    assert alerts[0]["waitDuration"] == 300
    assert alerts[1]["waitDuration"] == 60
    assert run.state == "finished"


def test_update_and_list_sweeps(sweeper: Sweeper, api: Any) -> None:
    sweep_id, _ = sweeper.create(GRID)
    (sweeper.code / "wider.yaml").write_text(yaml.safe_dump({
        "program": "train.py", **GRID, "parameters": {"x": {"values": [0, 1, 2, 3]},
                                                       "y": {"values": [0, 5]}}}))
    out = sweeper.cli("sweep", "--update", f"admin/hpo/{sweep_id}", "wider.yaml").stderr
    assert "Updating sweep with ID: " in out
    sweep = api.sweep(f"admin/hpo/{sweep_id}")
    assert sweep.config["parameters"]["x"]["values"] == [0, 1, 2, 3]
    assert sweep.expected_run_count == 8
    listed = {s.id: s for s in api.project("hpo", entity="admin").sweeps()}
    assert sweep_id in listed
    assert listed[sweep_id].state == "RUNNING"
