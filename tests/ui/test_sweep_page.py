"""The sweep page, the project's sweep list and the run page's alerts in headless Chromium,
for a grid sweep the real wandb SDK ran (``wandb.sweep`` + ``wandb.agent(function=)``) and a
run that raised alerts (delivered to the entity's own webhook, set with ``tracklet alerts
set-webhook``, a receiver on loopback). Values are compared with what ``wandb.Api()``'s sweep
answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran, chart_data
from tests.ui.test_run_tabs import gql
from tracklet.cli import cli
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-sweeps"
XSS_TITLE = "<img src=x onerror=\"window.__xss=5;alert(5)\">Loss high"

SDK_SCRIPT = f"""
import json
import wandb

P = {PROJECT!r}
grid = {{"method": "grid", "name": "ui-grid", "metric": {{"name": "loss", "goal": "minimize"}},
        "parameters": {{"x": {{"values": [0, 1]}}, "opt": {{"values": ["adam", "sgd"]}},
                       "lr": {{"value": 0.25}},
                       "sched": {{"parameters": {{"gamma": {{"value": 0.9}}}}}}}}}}
sweep_id = wandb.sweep(grid, project=P)
empty_id = wandb.sweep({{"method": "random", "metric": {{"name": "acc", "goal": "maximize"}},
                        "parameters": {{"a": {{"min": 0.0, "max": 1.0}}}}}}, project=P)

def train():
    run = wandb.init()
    c = run.config
    loss = (c.x - 1) ** 2 + (0.5 if c.opt == "sgd" else 0.0) + c.lr
    run.log({{"loss": loss + 1}})
    run.log({{"loss": loss}})
    run.finish()

wandb.agent(sweep_id, function=train, count=4)
run = wandb.init(project=P, job_type="alerting")
run.alert(title={XSS_TITLE!r}, text="loss went <i>up</i>", level=wandb.AlertLevel.WARN)
run.alert(title="Second", text="all fine", level=wandb.AlertLevel.INFO)
run.finish()
sweep = wandb.Api().sweep(f"admin/{{P}}/{{sweep_id}}")
print("RESULT", json.dumps({{"id": sweep_id, "empty": empty_id, "state": sweep.state,
      "best": sweep.best_run().id, "alerting": run.id,
      "runs": [{{"name": r.id, "created": r.created_at, "config": dict(r.config),
                "loss": r.summary["loss"]}} for r in sweep.runs]}}))
"""


class _Hook(BaseHTTPRequestHandler):
    """The entity's webhook: records each alert body."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        type(self).received.append(json.loads(self.rfile.read(
            int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def _set_webhook(server: TrackletServer, *args: str) -> None:
    result = CliRunner().invoke(cli, ["alerts", "set-webhook", "admin", *args,
                                      "--data-dir", str(server.data_dir)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def hook(ui_server: TrackletServer) -> Iterator[type[_Hook]]:
    handler = type("Hook", (_Hook,), {"received": []})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    _set_webhook(ui_server, f"http://127.0.0.1:{receiver.server_address[1]}/hook")
    try:
        yield handler
    finally:
        _set_webhook(ui_server, "--clear")
        receiver.shutdown()
        receiver.server_close()


@pytest.fixture(scope="module")
def swept(ui_server: TrackletServer, tmp_path_factory: pytest.TempPathFactory,
          hook: type[_Hook]) -> Iterator[dict[str, Any]]:
    from tests.e2e.conftest import sdk_environment

    workdir = tmp_path_factory.mktemp("sdk-sweep")
    script = workdir / "drive.py"
    script.write_text(SDK_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True,
                          text=True, timeout=600, env=sdk_environment(ui_server, workdir))
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    assert len(result["runs"]) == 4
    yield result


def shown(v: Any) -> str:
    """A value as the UI writes it (format.ts: integers in full, others to 6 digits)."""
    return f"{v:.6g}" if isinstance(v, float) and not v.is_integer() else str(
        int(v) if isinstance(v, float) else v)


def param(config: dict[str, Any], path: str) -> Any:
    """A run's value of a parameter (``outer.inner`` for a nested one)."""
    value: Any = config
    for part in path.split("."):
        value = value[part]
    return value


def test_sweep_page(ui_page: UiPage, swept: dict[str, Any]) -> None:
    page = ui_page.page
    page.goto(f"/admin/{PROJECT}/sweeps/{swept['id']}")
    page.wait_for_selector("table.sweep-runs", timeout=TIMEOUT_MS)
    assert page.inner_text("[data-fact=State]") == swept["state"]
    assert page.inner_text("[data-fact=Method]") == "grid"
    assert page.inner_text("[data-fact=Metric]") == "loss (minimize)"
    assert page.inner_text("h1.sweep-name") == "ui-grid"
    config_text = page.inner_text("pre.sweep-config")
    assert "grid" in config_text and "opt" in config_text

    runs = swept["runs"]
    by_loss = sorted(runs, key=lambda r: r["loss"])
    names = page.eval_on_selector_all("table.sweep-runs tbody tr",
                                      "els => els.map(e => e.dataset.run)")
    assert names == [r["name"] for r in by_loss]
    headers = page.eval_on_selector_all("table.sweep-runs thead th",
                                        "els => els.map(e => e.textContent)")
    assert headers[:2] == ["Run", "State"] and headers[-1] == "loss"
    params = headers[2:-1]
    assert sorted(params) == ["lr", "opt", "sched.gamma", "x"]
    for run in runs:
        cells = page.eval_on_selector_all(
            f"table.sweep-runs tr[data-run='{run['name']}'] td",
            "els => els.map(e => e.textContent)")
        assert cells[1] == "finished"
        assert cells[2:-1] == [shown(param(run["config"], p)) for p in params]
        assert cells[-1] == shown(run["loss"])
    # The best run (wandb.Api's best_run) is highlighted and linked.
    assert page.get_attribute("table.sweep-runs tr.best", "data-run") == swept["best"]
    assert by_loss[0]["name"] == swept["best"]
    assert page.get_attribute(".best-run a", "href") == \
        f"/admin/{PROJECT}/runs/{swept['best']}"

    # The metric over runs: each run's value in creation order, and the running best.
    ordered = sorted(runs, key=lambda r: (r["created"], r["name"]))
    data = chart_data(page, "sweep:metric")
    assert data[0] == [1, 2, 3, 4]
    assert data[1] == pytest.approx([r["loss"] for r in ordered])
    best_so_far = [min(r["loss"] for r in ordered[:i + 1]) for i in range(len(ordered))]
    assert data[2] == pytest.approx(best_so_far)

    # Parallel coordinates: one axis per parameter then the metric; one line per run.
    pc = page.evaluate("() => window.tracklet.parcoords")
    assert [a["name"] for a in pc["axes"]] == [*params, "loss"]
    lines = {line["run"]: line for line in pc["lines"]}
    assert set(lines) == {r["name"] for r in runs}
    for run in runs:
        assert lines[run["name"]]["values"] == [param(run["config"], p) for p in params] + \
            [pytest.approx(run["loss"])]
    assert lines[swept["best"]]["score"] == 1
    assert lines[by_loss[-1]["name"]]["score"] == 0
    kinds = {a["name"]: a["kind"] for a in pc["axes"]}
    assert kinds == {"x": "number", "opt": "category", "lr": "number", "sched.gamma": "number",
                     "loss": "number"}
    page.click(".best-run a")
    page.wait_for_url(f"**/admin/{PROJECT}/runs/{swept['best']}", timeout=TIMEOUT_MS)
    page.go_back()
    page.wait_for_selector(".parcoords", timeout=TIMEOUT_MS)
    ui_page.screenshot("sweep-page")
    assert_no_script_ran(ui_page)
    assert ui_page.watch.console_errors == []


def test_sweep_without_runs(ui_page: UiPage, swept: dict[str, Any]) -> None:
    page = ui_page.page
    page.goto(f"/admin/{PROJECT}/sweeps/{swept['empty']}")
    page.wait_for_selector("[data-fact=Method]", timeout=TIMEOUT_MS)
    assert page.inner_text("[data-fact=Method]") == "random"
    assert page.inner_text("[data-fact=Metric]") == "acc (maximize)"
    assert "No runs yet." in page.inner_text("main")
    # Live: a run joining the sweep shows up without a reload.
    gql(ui_page.server, """mutation($s: String!, $c: JSONString, $m: JSONString) {
        upsertBucket(input: {name: "late1", modelName: "ui-sweeps", entityName: "admin",
        sweep: $s, config: $c, summaryMetrics: $m}) { bucket { id } } }""",
        s=swept["empty"], c=json.dumps({"a": {"value": 0.5}}), m=json.dumps({"acc": 0.75}))
    page.wait_for_selector("table.sweep-runs tr[data-run=late1]", timeout=TIMEOUT_MS)
    assert page.inner_text("tr[data-run=late1] td.metric") == "0.75"
    assert page.get_attribute("table.sweep-runs tr.best", "data-run") == "late1"
    page.goto(f"/admin/{PROJECT}/sweeps/nosuchsweep")
    page.wait_for_selector("p.error", timeout=TIMEOUT_MS)
    assert "No sweep" in page.inner_text("p.error")
    assert_no_script_ran(ui_page)


def test_project_lists_its_sweeps(ui_page: UiPage, swept: dict[str, Any]) -> None:
    page = ui_page.page
    page.goto(f"/admin/{PROJECT}")
    page.wait_for_selector("table.sweep-list tbody tr", timeout=TIMEOUT_MS)
    rows = page.eval_on_selector_all("table.sweep-list tbody tr",
                                     "els => els.map(e => e.dataset.sweep)")
    assert sorted(rows) == sorted([swept["id"], swept["empty"]])
    cells = page.eval_on_selector_all(f"tr[data-sweep='{swept['id']}'] td",
                                      "els => els.map(e => e.textContent)")
    assert cells[:4] == ["ui-grid", swept["state"], "grid", "4"]
    assert cells[4] == shown(min(r["loss"] for r in swept["runs"]))
    ui_page.screenshot("project-sweeps")
    page.click(f"tr[data-sweep='{swept['id']}'] a")
    page.wait_for_selector("table.sweep-runs", timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/admin/{PROJECT}/sweeps/{swept['id']}")
    assert_no_script_ran(ui_page)


def test_run_alerts_tab(ui_page: UiPage, swept: dict[str, Any], hook: type[_Hook]) -> None:
    deadline = time.monotonic() + 60
    while True:  # the server's deliverer sends both to the entity's webhook
        stored = gql(ui_page.server, """query($p: String!, $r: String!) { project(name: $p,
            entityName: "admin") { run(name: $r) { alerts { id title text severity
            deliveries { state } } } } }""", p=PROJECT, r=swept["alerting"])["project"]["run"]
        states = [d["state"] for a in stored["alerts"] for d in a["deliveries"]]
        if states == ["delivered", "delivered"]:
            break
        assert time.monotonic() < deadline, f"alerts not delivered: {states}"
        time.sleep(0.5)
    assert [a["title"] for a in stored["alerts"]] == [XSS_TITLE, "Second"]
    assert sorted(b["title"] for b in hook.received) == sorted([XSS_TITLE, "Second"])
    page = ui_page.page
    page.goto(f"/admin/{PROJECT}/runs/{swept['alerting']}#alerts")
    page.wait_for_selector("table.alerts tbody tr", timeout=TIMEOUT_MS)
    rows = page.eval_on_selector_all("table.alerts tbody tr", """els => els.map(e =>
        Array.from(e.querySelectorAll('td')).map(td => td.textContent))""")
    # Newest first, each with its delivery to the entity's webhook.
    assert [r[1:4] for r in rows] == [["INFO", "Second", "all fine"],
                                      ["WARN", XSS_TITLE, "loss went <i>up</i>"]]
    assert all(r[4].startswith("webhook: delivered at ") for r in rows), rows
    assert all(r[0] for r in rows)
    ui_page.screenshot("run-alerts")
    assert_no_script_ran(ui_page)
    # A run without alerts says so.
    page.goto(f"/admin/{PROJECT}/runs/{swept['best']}#alerts")
    page.wait_for_selector("[data-tab=alerts] p.muted", timeout=TIMEOUT_MS)
    assert page.inner_text("[data-tab=alerts] p.muted") == "This run raised no alerts."
