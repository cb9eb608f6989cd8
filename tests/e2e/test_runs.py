"""The write path end to end: the real SDK logs, the store holds exactly that, wandb.Api agrees.

Every test runs its training code in a subprocess against the session's live server, then
compares what was logged with the stored rows value for value and with ``wandb.Api()``.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import SdkEnv
from tests.e2e.storage_view import md5_b64, run_path, stored_run, user_keys

# The logging plan shared by the training script (pasted in) and the test (exec'd here), so
# the expected rows are computed from the same definition instead of written out by hand.
PLAN_CODE = '''
def plan():
    out = []
    for i in range(600):
        if i % 7 == 0:
            out.append(({"partial": i, "pn": {"q": i * 2}}, {"commit": False}))
        out.append(({
            "loss": 1.0 / (i + 1),
            "acc": i / 600,
            "nested": {"a": i, "b": {"c": i * 0.25, "s": "s%d" % i}},
            "flag": i % 2 == 0,
            "big": 2**40 + i,
            "edge": float("inf") if i == 5 else -i,
        }, {}))
    for j in range(400):
        out.append(({"loss": 0.5 - j / 1000, "phase": 2, "nested": {"a": -j}},
                    {"step": 1000 + 3 * j}))
    return out
'''


def _plan() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    ns: dict[str, Any] = {}
    exec(PLAN_CODE, ns)
    return list(ns["plan"]())


def _expected_rows(plan: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[tuple[int, dict]]:
    """(step, user keys) of each committed row: commit=False merges into the next row."""
    rows: list[tuple[int, dict[str, Any]]] = []
    pending: dict[str, Any] = {}
    step = 0
    for data, kwargs in plan:
        if "step" in kwargs:
            step = kwargs["step"]
        merged = {**pending, **data}
        if kwargs.get("commit") is False:
            pending = merged
            continue
        rows.append((step, merged))
        pending = {}
        step += 1
    return rows


def _deep_update(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def test_run_metadata_and_updates_are_stored(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run(
        """
        import wandb
        config = {"lr": 0.01, "model": {"layers": [64, 32], "act": "relu",
                                        "opt": {"name": "adam", "betas": [0.9, 0.999]}}}
        run = wandb.init(project="runs-meta", id="meta0001", name="first name", config=config,
                         tags=["baseline", "t2"], notes="some notes\\nline two",
                         group="grp-a", job_type="train")
        run.log({"x": 1})
        run.config.update({"epochs": 3})
        run.config["batch"] = 128
        run.tags = run.tags + ("added",)
        run.notes = "changed notes"
        run.name = "renamed run"
        run.log({"x": 2})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    assert (project, run_id) == ("runs-meta", "meta0001")
    expected_config = {
        "lr": 0.01,
        "model": {"layers": [64, 32], "act": "relu",
                  "opt": {"name": "adam", "betas": [0.9, 0.999]}},
        "epochs": 3,
        "batch": 128,
    }
    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.config == expected_config
    assert list(stored.run.tags) == ["baseline", "t2", "added"]
    assert stored.run.notes == "changed notes"
    assert stored.run.group == "grp-a"
    assert stored.run.job_type == "train"
    assert stored.run.display_name == "renamed run"
    assert stored.run.state == "finished"
    assert stored.run.exit_code == 0
    assert stored.run.host == socket.gethostname()
    assert stored.run.program is not None and stored.run.program.endswith(".py")
    assert stored.run.metadata is not None and '"python"' in stored.run.metadata
    assert [user_keys(r) for r in stored.history] == [{"x": 1}, {"x": 2}]
    assert stored.history_steps == [0, 1]

    run = api.run(f"{entity}/{project}/{run_id}")
    assert run.config == expected_config
    assert run.tags == ["baseline", "t2", "added"]
    assert run.notes == "changed notes"
    assert run.group == "grp-a"
    assert run.job_type == "train"
    assert run.name == "renamed run"
    assert run.id == "meta0001"
    assert run.state == "finished"
    assert run.summary["x"] == 2


def test_thousand_steps_history_and_summary_exact(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run(
        PLAN_CODE
        + """
import wandb
run = wandb.init(project="runs-history", config={"seed": 7})
run.define_metric("acc", summary="max")
run.define_metric("edge", summary="min")
for data, kwargs in plan():
    run.log(data, **kwargs)
run.summary["best_note"] = "done"
run.summary.update({"extra": {"x": 1, "y": [1, 2]}})
run.finish()
print("RUN", run.entity, run.project, run.id)
"""
    )
    entity, project, run_id = run_path(proc)
    expected = _expected_rows(_plan())
    assert len(expected) == 1000

    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.run.history_line_count == 1000
    assert len(stored.history) == 1000, "every history row stored exactly once"
    assert [(r["_step"], user_keys(r)) for r in stored.history] == expected
    assert stored.history_steps == [step for step, _ in expected]
    assert stored.run.last_step == expected[-1][0]
    for row in stored.history:
        assert isinstance(row["_runtime"], (int, float)) and isinstance(row["_timestamp"], float)

    last_values: dict[str, Any] = {}
    for _, row in expected:
        _deep_update(last_values, row)  # the SDK's summary merges nested dicts key by key
    summary = stored.summary
    for key, value in last_values.items():
        if key in ("acc", "edge"):
            continue
        assert summary[key] == value, key
    assert summary["acc"] == {"max": max(r["acc"] for _, r in expected if "acc" in r)}
    assert summary["edge"] == {"min": -599}
    assert summary["best_note"] == "done"
    assert summary["extra"] == {"x": 1, "y": [1, 2]}
    assert summary["_step"] == expected[-1][0]

    run = api.run(f"{entity}/{project}/{run_id}")
    assert run.summary._json_dict == summary
    assert run.config == {"seed": 7}


def test_non_finite_values_survive(sdk: SdkEnv) -> None:
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="runs-values")
        run.log({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
                 "i64": 2**62, "neg": -(2**62), "s": "é ✓ \\u0000 end"})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    stored = stored_run(sdk.server, *run_path(proc))
    (row,) = stored.history
    assert math.isnan(row["nan"])
    assert row["inf"] == math.inf and row["ninf"] == -math.inf
    assert row["i64"] == 2**62 and row["neg"] == -(2**62)
    assert row["s"] == "é ✓ \x00 end"
    assert math.isnan(stored.summary["nan"])


def test_console_output_with_carriage_return_progress(sdk: SdkEnv) -> None:
    proc = sdk.run(
        """
        import sys, time, wandb
        settings = wandb.Settings(x_file_stream_transmit_interval=1)
        run = wandb.init(project="runs-console", settings=settings)
        print("epoch 1 starting")
        for pct in range(0, 101, 25):
            sys.stdout.write("\\rprogress %3d%%" % pct)
            sys.stdout.flush()
            time.sleep(1.2)  # file_stream sends the bar half-drawn, then rewrites that line
        print()
        print("problem here", file=sys.stderr)
        for i in range(50):
            print("line", i)
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    stored = stored_run(sdk.server, *run_path(proc))
    expected = ["epoch 1 starting", "progress 100%", "ERROR problem here"]
    expected += [f"line {i}" for i in range(50)]
    assert stored.console == expected
    assert [i for i, _ in stored.console_raw] == list(range(len(expected)))
    assert stored.run.log_line_count == len(expected)


def test_saved_files_are_byte_equal(sdk: SdkEnv, api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    payload = os.urandom(300_000) + bytes(range(256))
    (sdk.workdir / "blob.bin").write_bytes(payload)
    (sdk.workdir / "sub").mkdir()
    (sdk.workdir / "sub" / "notes.txt").write_text("alpha\nbeta\n")
    (sdk.workdir / "empty.txt").write_bytes(b"")
    proc = sdk.run(
        """
        import os, wandb
        run = wandb.init(project="runs-files")
        wandb.save("blob.bin", policy="now")
        run.save("sub/notes.txt", base_path=os.getcwd(), policy="end")
        wandb.save("empty.txt", policy="now")
        run.log({"x": 1})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    stored = stored_run(sdk.server, entity, project, run_id)
    originals = {"blob.bin": payload, "sub/notes.txt": b"alpha\nbeta\n", "empty.txt": b""}
    for name, data in originals.items():
        assert stored.blob_bytes[name] == data, name
        assert stored.files[name].size == len(data)
        assert stored.files[name].md5 == md5_b64(data)
        assert stored.files[name].uploaded
    assert {"wandb-metadata.json", "config.yaml", "wandb-summary.json"} <= set(
        stored.files
    )

    run = api.run(f"{entity}/{project}/{run_id}")
    listed = {f.name: f for f in run.files()}
    for name, data in originals.items():
        assert listed[name].size == len(data)
        assert listed[name].md5 == md5_b64(data)
        target = tmp_path / "dl"
        run.file(name).download(root=str(target), replace=True).close()  # an open file
        assert (target / name).read_bytes() == data, name


def test_four_runs_at_once_from_separate_processes(sdk: SdkEnv) -> None:
    script = sdk.workdir / "worker.py"
    script.write_text(
        "import sys, wandb\n"
        "k = int(sys.argv[1])\n"
        "run = wandb.init(project='runs-parallel', id='par%05d' % k, config={'k': k})\n"
        "for i in range(300):\n"
        "    run.log({'v': k * 1000 + i, 'sq': i * i})\n"
        "print('line from', k)\n"
        "run.finish()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), str(k)], cwd=sdk.workdir, env=sdk.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(4)
    ]
    deadline = time.monotonic() + 300
    for p in procs:
        _out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
        assert p.returncode == 0, err[-3000:]
    for k in range(4):
        stored = stored_run(sdk.server, "admin", "runs-parallel", f"par{k:05d}")
        assert stored.run.state == "finished"
        assert stored.config == {"k": k}
        assert [user_keys(r) for r in stored.history] == [
            {"v": k * 1000 + i, "sq": i * i} for i in range(300)
        ]
        assert stored.history_steps == list(range(300))
        assert stored.console == [f"line from {k}"]
        assert stored.summary["v"] == k * 1000 + 299


def test_gzip_file_stream_is_stored_like_plain(sdk: SdkEnv) -> None:
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="runs-gzip",
                         settings=wandb.Settings(x_file_stream_no_gzip=False))
        for i in range(500):
            run.log({"v": i, "text": "repetitive " * 20})
        print("compressed output")
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    stored = stored_run(sdk.server, *run_path(proc))
    assert [user_keys(r) for r in stored.history] == [
        {"v": i, "text": "repetitive " * 20} for i in range(500)
    ]
    assert stored.console == ["compressed output"]
    assert stored.summary["v"] == 499


def test_public_api_edits_are_stored(sdk: SdkEnv, api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="runs-api-edit", config={"lr": 1}, tags=["a"])
        run.log({"loss": 0.5})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    run = api.run(f"{entity}/{project}/{run_id}")
    run.tags.append("reviewed")
    run.notes = "looked at it"
    run.group = "g-api"
    run.job_type = "analysis"
    run.display_name = "edited name"
    run.config["lr"] = 2
    run.summary["verdict"] = "good"
    run.update()
    (tmp_path / "report.txt").write_bytes(b"api upload \x00\xff")
    run.upload_file(str(tmp_path / "report.txt"), root=str(tmp_path))

    stored = stored_run(sdk.server, entity, project, run_id)
    assert list(stored.run.tags) == ["a", "reviewed"]
    assert (stored.run.notes, stored.run.group, stored.run.job_type, stored.run.display_name) == (
        "looked at it", "g-api", "analysis", "edited name")
    assert stored.config == {"lr": 2}
    assert stored.summary["verdict"] == "good" and stored.summary["loss"] == 0.5
    assert stored.blob_bytes["report.txt"] == b"api upload \x00\xff"
    assert stored.run.state == "finished", "editing a finished run does not revive it"
    again = api.run(f"{entity}/{project}/{run_id}")
    assert again.tags == ["a", "reviewed"] and again.summary["verdict"] == "good"
