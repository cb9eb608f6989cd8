"""benchmarks.ui_mlflow end to end at a small size: both servers loaded with the same runs,
MLflow's runs table and chart view and tracklet's workspace opened in Debian's chromium, and
the figures and the points MLflow drew per run read back.

Needs the MLflow install benchmarks.peers makes (benchmarks/.peers/mlflow, from PyPI on
first use); the test does not download it and skips, naming the command, when it is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from benchmarks import harness, ui, ui_mlflow

ROOT = Path(__file__).resolve().parents[2]
RUNS = 12  # more than the 10 MLflow's chart view shows by default
STEPS = 100  # under MLflow's 320 samples per run: every point is drawn


def _build_ui() -> None:
    spec = importlib.util.spec_from_file_location("build_ui", ROOT / "scripts" / "build_ui.py")
    assert spec is not None and spec.loader is not None
    build_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_ui)
    build_ui.build()


@pytest.mark.parametrize("sql", [False, True], ids=["log-batch", "sql"])
def test_mlflow_and_tracklet_pages_measured(sql: bool) -> None:
    if not (harness.PEERS_DIR / "mlflow" / ".installed").exists():
        pytest.skip("no MLflow install: `python -m benchmarks.peers --peers mlflow` makes it")
    if not Path(ui.CHROMIUM).exists():
        pytest.fail(f"{ui.CHROMIUM} is missing: run scripts/system-deps.sh")
    _build_ui()
    got = ui_mlflow.measure(argparse.Namespace(runs=RUNS, steps=STEPS, repeats=1,
                                               no_warmup=True, sql=sql))

    shape = got["shape"]
    assert shape["lines"] == 10  # MLflow's default: the first 10 runs drawn
    assert shape["max_results"] == {"320"}
    assert shape["points"] == [STEPS]  # every point of every series it fetched
    assert shape["series"] >= 10 * shape["in_view"] > 0
    assert shape["tk_in_view"] > 0
    for key in ("ml_table", "ml_first", "ml_view", "tk_table", "tk_first", "tk_view"):
        assert 0 < got["median"][key] < 600_000, (key, got["median"])
    assert got["median"]["ml_first"] <= got["median"]["ml_view"]
    assert got["median"]["tk_first"] <= got["median"]["tk_view"]
    text = ui_mlflow.report(got)
    assert f"| runs table shows the {RUNS} runs |" in text
    assert f"drew {STEPS} points per run" in text
    assert ("--sql" in text) is sql
