"""The compatibility matrix: the core scenarios with every SDK release in ``sdk_venvs.MATRIX``.

Each scenario runs its training (or reading) script as a subprocess in the venv of one wandb
release against the live server, and compares what comes back, value for value: through the
test environment's pinned ``wandb.Api()`` and straight from storage, and, for the read path,
what that release's own ``wandb.Api()`` returned. The pinned release runs in every test run;
the older ones carry the ``compat`` marker and run with ``make test-compat`` (``-m compat``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import sdk_venvs
from tests.e2e.artifact_helpers import read_tree, result, write_tree
from tests.e2e.conftest import LiveServer, SdkEnv, sdk_environment
from tests.e2e.storage_view import history_count, opened, stored_run, user_keys
from tests.e2e.test_api_history import wait_for_export
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata import runs as run_repo

ENTITY = "admin"


def _version_param(version: str) -> Any:
    if version == sdk_venvs.MATRIX[-1]:
        return pytest.param(version, id=f"wandb-{version}")
    # One worker per older release: its venv is made once, by that worker.
    marks = [pytest.mark.compat, pytest.mark.xdist_group(f"wandb-{version}")]
    return pytest.param(version, marks=marks, id=f"wandb-{version}")


@dataclass
class ReleaseEnv(SdkEnv):
    """An :class:`SdkEnv` whose scripts run with one release of the matrix."""

    version: str = ""


@pytest.fixture(params=[_version_param(v) for v in sdk_venvs.MATRIX])
def old_sdk(request: pytest.FixtureRequest, live_server: LiveServer,
            tmp_path: Path) -> ReleaseEnv:
    """SDK scripts run by one release of the matrix (its venv made on first use)."""
    version: str = request.param
    env = sdk_environment(live_server, tmp_path)
    if version != sdk_venvs.pinned_version():
        env.pop("PYTHONPATH", None)  # the venv imports its own packages only
    sdk = ReleaseEnv(live_server, tmp_path, env, python=sdk_venvs.sdk_python(version),
                     version=version)
    proc = sdk.run("import wandb; print(wandb.__version__)")
    assert proc.stdout.strip() == version
    return sdk


def _project(sdk: ReleaseEnv, scenario: str) -> str:
    return f"compat-{scenario}-{sdk.version.replace('.', '-')}"


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _plain(value: Any) -> Any:
    """A summary value as plain dicts (``run.summary`` nests its own mapping type)."""
    if isinstance(value, Mapping) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_matrix_ends_with_the_pinned_release() -> None:
    """The newest release of the matrix is the one `make test` installs."""
    assert sdk_venvs.MATRIX[-1] == sdk_venvs.pinned_version()
    assert list(sdk_venvs.MATRIX) == sorted(sdk_venvs.MATRIX,
                                            key=lambda v: tuple(map(int, v.split("."))))


# -- init / log / finish ------------------------------------------------------------------

LIFECYCLE = """
import json, sys, wandb
run = wandb.init(project=sys.argv[1], config={"lr": 0.25, "arch": {"depth": 4, "act": "relu"}},
                 tags=["matrix", "core"], notes="from the matrix", group="g", job_type="train")
for i in range(30):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 30, "nested": {"x": i, "s": f"s{i}"}})
run.summary["best"] = 0.5
run.summary.update({"extra": {"a": [1, 2, 3]}})
run.config.update({"late": "yes"})
print("console line from the matrix")
run.finish()
print("RESULT", json.dumps({"id": run.id, "entity": run.entity}))
"""


def _logged_row(i: int) -> dict[str, Any]:
    return {"loss": 1.0 / (i + 1), "acc": i / 30, "nested": {"x": i, "s": f"s{i}"}}


def test_init_log_finish(old_sdk: ReleaseEnv, api: Any) -> None:
    project = _project(old_sdk, "life")
    logged = result(old_sdk.run(LIFECYCLE, args=(project,)))
    stored = stored_run(old_sdk.server, ENTITY, project, logged["id"])
    assert [r["_step"] for r in stored.history] == list(range(30))
    assert [user_keys(r) for r in stored.history] == [_logged_row(i) for i in range(30)]
    assert stored.config == {"lr": 0.25, "arch": {"depth": 4, "act": "relu"}, "late": "yes"}
    assert "console line from the matrix" in stored.console
    assert (stored.run.state, stored.run.exit_code) == ("finished", 0)

    run = api.run(f"{ENTITY}/{project}/{logged['id']}")
    assert run.state == "finished"
    assert run.config == {"lr": 0.25, "arch": {"depth": 4, "act": "relu"}, "late": "yes"}
    assert {k: _plain(run.summary[k])
            for k in ("loss", "acc", "nested", "best", "extra", "_step")} == {
        **_logged_row(29), "best": 0.5, "extra": {"a": [1, 2, 3]}, "_step": 29}
    assert (sorted(run.tags), run.notes, run.group, run.job_type) == (
        ["core", "matrix"], "from the matrix", "g", "train")
    scanned = [{k: r[k] for k in ("_step", "loss", "acc")} for r in run.scan_history()]
    assert scanned == [{"_step": i, "loss": 1.0 / (i + 1), "acc": i / 30} for i in range(30)]
    assert "output.log" in {f.name for f in run.files()}


# -- resume -------------------------------------------------------------------------------

RESUME_FIRST = """
import sys, wandb
run = wandb.init(project=sys.argv[1], id=sys.argv[2], config={"lr": 0.1, "nested": {"a": 1}})
for i in range(20):
    run.log({"loss": 100 - i})
print("first process line")
run.finish()
"""

RESUME_SECOND = """
import sys, wandb
run = wandb.init(project=sys.argv[1], id=sys.argv[2], resume="must", config={"extra": True})
assert run.resumed
for i in range(10):
    run.log({"loss": -i, "late": i})
print("second process line")
run.finish()
"""


def test_resume(old_sdk: ReleaseEnv, api: Any) -> None:
    project = _project(old_sdk, "resume")
    old_sdk.run(RESUME_FIRST, args=(project, "resumed1"))
    first = stored_run(old_sdk.server, ENTITY, project, "resumed1")
    assert first.console == ["first process line"], first.console_raw
    old_sdk.run(RESUME_SECOND, args=(project, "resumed1"))
    stored = stored_run(old_sdk.server, ENTITY, project, "resumed1")
    assert [r["_step"] for r in stored.history] == list(range(30))
    assert [user_keys(r) for r in stored.history] == (
        [{"loss": 100 - i} for i in range(20)] + [{"loss": -i, "late": i} for i in range(10)])
    assert stored.history[:20] == first.history, "the first process' rows are untouched"
    assert stored.config == {"lr": 0.1, "nested": {"a": 1}, "extra": True}
    console = ["first process line", "second process line"]
    if (0, 20, 0) <= _release(old_sdk.version) < (0, 28, 2):
        # These releases reset the console (and system metrics) offsets to 0 when they
        # resume (wandb PR #12421, fixed in 0.28.2): the second process writes its console
        # from line 0 over the first's, on W&B as here.
        console = ["second process line"]
    assert stored.console == console, stored.console_raw

    run = api.run(f"{ENTITY}/{project}/resumed1")
    assert run.state == "finished"
    assert (run.summary["loss"], run.summary["late"], run.summary["_step"]) == (-9, 9, 29)
    assert [r["loss"] for r in run.scan_history(keys=["loss"])] == (
        [100 - i for i in range(20)] + [-i for i in range(10)])


# -- offline + wandb sync -----------------------------------------------------------------

OFFLINE = """
import sys, wandb
run = wandb.init(project=sys.argv[1], id=sys.argv[2], config={"lr": 0.3, "arch": {"depth": 2}},
                 tags=["offline"])
wandb.save("notes.txt", policy="now")
for i in range(50):
    run.log({"loss": 1.0 / (i + 1), "nested": {"i": i}})
run.summary["final"] = "yes"
print("offline output")
run.finish()
"""


def test_offline_then_sync(old_sdk: ReleaseEnv, api: Any) -> None:
    project = _project(old_sdk, "offline")
    notes = b"offline bytes \x00\x01\n" * 50
    (old_sdk.workdir / "notes.txt").write_bytes(notes)
    old_sdk.run(OFFLINE, args=(project, "offline1"), extra_env={"WANDB_MODE": "offline"})
    with opened(old_sdk.server) as storage, storage.db.read() as conn:
        assert run_repo.find_run_by_path(conn, ENTITY, project, "offline1") is None
    run_dirs = list((old_sdk.workdir / "wandb").glob("offline-run-*-offline1"))
    assert len(run_dirs) == 1
    old_sdk.cli("sync", str(run_dirs[0]))

    stored = stored_run(old_sdk.server, ENTITY, project, "offline1")
    expected = [{"loss": 1.0 / (i + 1), "nested": {"i": i}} for i in range(50)]
    assert [r["_step"] for r in stored.history] == list(range(50))
    assert [user_keys(r) for r in stored.history] == expected
    assert stored.config == {"lr": 0.3, "arch": {"depth": 2}}
    assert stored.summary["final"] == "yes" and stored.summary["loss"] == 1.0 / 50
    assert stored.console == ["offline output"]
    assert stored.blob_bytes["notes.txt"] == notes
    assert (stored.run.state, list(stored.run.tags)) == ("finished", ["offline"])

    old_sdk.cli("sync", str(run_dirs[0]))
    again = stored_run(old_sdk.server, ENTITY, project, "offline1")
    assert again.history == stored.history, "a second sync stores nothing twice"
    if _release(old_sdk.version) < (0, 28):
        # 0.19 to 0.25 sync through their Python sender, which stamps each console line
        # with the time of the sync: a second sync rewrites the same lines, newly stamped.
        assert again.console == stored.console
    else:
        assert again.console_raw == stored.console_raw

    run = api.run(f"{ENTITY}/{project}/offline1")
    assert run.config == {"lr": 0.3, "arch": {"depth": 2}}
    assert run.summary["final"] == "yes"
    assert [r["nested"] for r in run.scan_history(keys=["nested"])] == [
        {"i": i} for i in range(50)]


# -- media: images --------------------------------------------------------------------------

MEDIA = """
import json, sys, wandb
import numpy as np
rng = np.random.default_rng(7)
run = wandb.init(project=sys.argv[1])
first = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
run.log({"image": wandb.Image(first, caption="first"), "step_value": 0})
run.log({"image": wandb.Image(first[::-1], caption="second"), "step_value": 1})
run.finish()
print("RESULT", json.dumps({"id": run.id, "entity": run.entity, "dir": run.dir}))
"""


def test_media_images(old_sdk: ReleaseEnv, api: Any, tmp_path: Path) -> None:
    project = _project(old_sdk, "media")
    logged = result(old_sdk.run(MEDIA, args=(project,)))
    local = {k: v for k, v in read_tree(Path(logged["dir"])).items()
             if k.startswith("media/images/")}
    assert len(local) == 2, sorted(local)

    run = api.run(f"{logged['entity']}/{project}/{logged['id']}")
    remote = {f.name: f for f in run.files(per_page=1000)}
    assert set(local) <= set(remote)
    out = tmp_path / "downloaded"
    for name in local:
        remote[name].download(root=str(out), replace=True).close()
    assert {k: v for k, v in read_tree(out).items()} == local

    stored = stored_run(old_sdk.server, logged["entity"], project, logged["id"])
    images = [row["image"] for row in stored.history]
    assert [(i["_type"], i["caption"], i["width"], i["height"]) for i in images] == [
        ("image-file", "first", 32, 24), ("image-file", "second", 32, 24)]
    assert [i["path"] for i in images] == sorted(local, key=lambda p: images[0]["path"] != p)
    for image in images:
        assert remote[image["path"]].size == len(local[image["path"]])
    assert run.summary["image"]["caption"] == "second"
    assert run.summary["image"]["path"] == images[1]["path"]


# -- tables ---------------------------------------------------------------------------------

TABLE = """
import json, sys, wandb
run = wandb.init(project=sys.argv[1])
table = wandb.Table(columns=["x", "y", "label"],
                    data=[[i, i * i, f"row {i}"] for i in range(25)])
run.log({"squares": table})
run.finish()
print("RESULT", json.dumps({"id": run.id, "entity": run.entity, "dir": run.dir}))
"""


def test_tables(old_sdk: ReleaseEnv, api: Any, tmp_path: Path) -> None:
    project = _project(old_sdk, "table")
    logged = result(old_sdk.run(TABLE, args=(project,)))
    rows = [[i, i * i, f"row {i}"] for i in range(25)]
    run = api.run(f"{logged['entity']}/{project}/{logged['id']}")
    summary = run.summary["squares"]
    assert summary["_type"] == "table-file" and summary["nrows"] == 25

    local = {k: v for k, v in read_tree(Path(logged["dir"])).items()
             if k.startswith("media/table/")}
    assert len(local) == 1
    (name, data), = local.items()
    assert json.loads(data)["data"] == rows
    assert summary["path"] == name
    remote = {f.name: f for f in run.files(per_page=1000)}
    remote[name].download(root=str(tmp_path / "files"), replace=True).close()
    assert (tmp_path / "files" / name).read_bytes() == data

    artifact = api.artifact(f"{logged['entity']}/{project}/run-{logged['id']}-squares:v0")
    assert artifact.type == "run_table"
    root = Path(artifact.download(root=str(tmp_path / "artifact")))
    table = json.loads((root / "squares.table.json").read_bytes())
    assert (table["columns"], table["data"]) == (["x", "y", "label"], rows)


# -- artifacts: log, use, download ----------------------------------------------------------

LOG_ARTIFACT = """
import json, sys, wandb
project, src, aliases = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
run = wandb.init(project=project, job_type="produce")
art = wandb.Artifact("dataset", type="dataset", description="matrix data",
                     metadata={"rows": 3, "source": "matrix"})
art.add_dir(src)
run.log_artifact(art, aliases=aliases)
art.wait()
print("RESULT", json.dumps({"id": art.id, "version": art.version, "digest": art.digest,
                            "run": run.id, "entity": run.entity}))
run.finish()
"""

USE_ARTIFACT = """
import json, sys, wandb
project, ref, root = sys.argv[1], sys.argv[2], sys.argv[3]
run = wandb.init(project=project, job_type="consume")
art = run.use_artifact(ref)
path = art.download(root=root)
print("RESULT", json.dumps({"run": run.id, "version": art.version, "digest": art.digest,
                            "aliases": sorted(art.aliases), "metadata": art.metadata}))
run.finish()
"""


LINEAGE = """
import json, sys, wandb
project, runs = sys.argv[1], sys.argv[2].split(",")
api = wandb.Api(timeout=60)
out = {}
for run_id in runs:
    run = api.run(f"admin/{project}/{run_id}")
    out[run_id] = {"logged": [a.name for a in run.logged_artifacts()],
                   "used": [a.name for a in run.used_artifacts()]}
print("RESULT", json.dumps(out))
"""


def test_artifacts_log_use_download(old_sdk: ReleaseEnv, api: Any, tmp_path: Path) -> None:
    project = _project(old_sdk, "artifacts")
    v0 = {"a.txt": b"alpha\n", "sub/b.json": b'{"b": 2}\n', "empty.bin": b"",
          "data/r.bin": bytes(range(256)) * 400}
    v1 = {**v0, "a.txt": b"alpha, second version\n"}
    logged = []
    for i, (files, aliases) in enumerate(((v0, "first"), (v1, "best"))):
        src = tmp_path / f"src{i}"
        write_tree(src, files)
        logged.append(result(old_sdk.run(LOG_ARTIFACT, args=(project, str(src), aliases))))
    assert [x["version"] for x in logged] == ["v0", "v1"]

    # Another run of the same release downloads each version with an empty cache.
    used = []
    for ref, files in (("dataset:first", v0), ("dataset:latest", v1)):
        root = tmp_path / f"dl-{ref.replace(':', '-')}"
        used.append(result(old_sdk.run(
            USE_ARTIFACT, args=(project, ref, str(root)),
            extra_env={"WANDB_CACHE_DIR": str(tmp_path / f"cache-{root.name}")})))
        assert read_tree(root) == files
    assert [(u["version"], u["digest"]) for u in used] == [
        (x["version"], x["digest"]) for x in logged]
    assert used[1]["aliases"] == ["best", "latest"]
    assert used[0]["metadata"] == {"rows": 3, "source": "matrix"}

    entity = logged[0]["entity"]
    for log, files, aliases in ((logged[0], v0, ["first"]), (logged[1], v1, ["best", "latest"])):
        art = api.artifact(f"{entity}/{project}/dataset:{log['version']}")
        assert (art.id, art.digest, art.type, art.description) == (
            log["id"], log["digest"], "dataset", "matrix data")
        assert sorted(art.aliases) == aliases
        assert art.metadata == {"rows": 3, "source": "matrix"}
        assert (art.file_count, art.size) == (len(files), sum(len(d) for d in files.values()))
        assert sorted(f.name for f in art.files()) == sorted(files)
        assert art.logged_by().id == log["run"]
    assert [r.id for r in api.artifact(f"{entity}/{project}/dataset:v0").used_by()] == [
        used[0]["run"]]
    assert [a.name for a in api.run(f"{entity}/{project}/{used[1]['run']}").used_artifacts()
            ] == ["dataset:v1"]
    got = Path(api.artifact(f"{entity}/{project}/dataset:v1").download(
        root=str(tmp_path / "pinned")))
    assert read_tree(got) == v1
    # The lineage as that release's own wandb.Api() lists it.
    runs = [logged[0]["run"], logged[1]["run"], used[0]["run"], used[1]["run"]]
    lineage = result(old_sdk.run(LINEAGE, args=(project, ",".join(runs))))
    assert [lineage[r] for r in runs] == [
        {"logged": ["dataset:v0"], "used": []}, {"logged": ["dataset:v1"], "used": []},
        {"logged": [], "used": ["dataset:v0"]}, {"logged": [], "used": ["dataset:v1"]}]


# -- the read path: that release's own wandb.Api() ------------------------------------------

WRITE_AND_WAIT = """
import os, sys, time, wandb
project, run_id, gate = sys.argv[1], sys.argv[2], sys.argv[3]
run = wandb.init(project=project, id=run_id, config={"lr": 0.5, "opt": {"name": "adam"}},
                 settings=wandb.Settings(x_file_stream_transmit_interval=1))
with open("weights.txt", "w") as f:
    f.write("weights " * 100)
wandb.save("weights.txt", policy="now")
for i in range(120):
    row = {"loss": 1.0 / (i + 1)}
    if i % 3 == 0:
        row["acc"] = i / 120
    run.log(row)
print("READY", flush=True)
deadline = time.monotonic() + 300
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.2)
run.summary["final"] = 1
run.finish()
"""

READ = """
import json, sys, wandb
project, run_id, root = sys.argv[1], sys.argv[2], sys.argv[3]
api = wandb.Api(timeout=60)
runs = api.runs(f"admin/{project}", filters={"config.lr": 0.5})
run = api.run(f"admin/{project}/{run_id}")
def user(row):
    return {k: v for k, v in row.items() if not k.startswith("_") or k == "_step"}
files = {f.name: f for f in run.files()}
files["weights.txt"].download(root=root, replace=True)
print("RESULT", json.dumps({
    "runs": [r.id for r in runs],
    "state": run.state,
    "config": run.config,
    "summary": {k: run.summary.get(k) for k in ("loss", "acc", "final")},
    "history": [user(r) for r in run.history(samples=1000, pandas=False)],
    "history_keys": [user(r) for r in run.history(keys=["acc"], pandas=False)],
    "scan": [user(r) for r in run.scan_history(page_size=50)],
    "scan_keys": [user(r) for r in run.scan_history(keys=["loss", "acc"], page_size=17)],
    "files": sorted(files),
    "weights": open(root + "/weights.txt").read(),
}))
"""


def _expected_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(120):
        row: dict[str, Any] = {"_step": i, "loss": 1.0 / (i + 1)}
        if i % 3 == 0:
            row["acc"] = i / 120
        rows.append(row)
    return rows


def _expected_scan_keys(version: str, rows: list[dict[str, Any]], keys: list[str],
                        page_size: int) -> list[dict[str, Any]]:
    """What ``scan_history(keys=keys, page_size=page_size)`` of ``version`` yields."""
    holding = [r for r in rows if all(k in r for k in keys)]
    if _release(version) >= (0, 27, 2):
        return holding
    # Releases before 0.27.2 page it themselves over windows [p, p + page_size] while W&B's
    # sampledHistory takes maxStep as inclusive (tracklet too, as wandb-core expects): the
    # row at a window's boundary comes twice (wandb PR #12010 fixed that in the SDK), and a
    # row holds the keys asked for only.
    end = rows[-1]["_step"] + 1
    return [{k: r[k] for k in keys}
            for start in range(0, end, page_size)
            for r in holding if start <= r["_step"] <= min(start + page_size, end)]


def _check_read(got: dict[str, Any], run_id: str, state: str, version: str) -> None:
    rows = _expected_rows()
    assert got["runs"] == [run_id]
    assert got["state"] == state
    assert got["config"] == {"lr": 0.5, "opt": {"name": "adam"}}
    assert got["history"] == rows
    assert got["history_keys"] == [{"_step": r["_step"], "acc": r["acc"]}
                                   for r in rows if "acc" in r]
    assert got["scan"] == rows
    assert got["scan_keys"] == _expected_scan_keys(version, rows, ["loss", "acc"], 17)
    # output.log is uploaded when the run ends
    assert {"weights.txt", *(["output.log"] if state == "finished" else [])} <= set(got["files"])
    assert got["weights"] == "weights " * 100
    assert got["summary"]["loss"] == 1.0 / 120 and got["summary"]["acc"] == 117 / 120


def test_read_path(old_sdk: ReleaseEnv, live_server: LiveServer, tmp_path: Path) -> None:
    project = _project(old_sdk, "read")
    script = old_sdk.workdir / "write_and_wait.py"
    script.write_text(WRITE_AND_WAIT)
    gate = tmp_path / "gate"
    proc = subprocess.Popen([str(old_sdk.python), str(script), project, "reader1", str(gate)],
                            cwd=old_sdk.workdir, env=old_sdk.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with opened(live_server) as storage, storage.db.read() as conn:
                found = run_repo.find_run_by_path(conn, ENTITY, project, "reader1")
                saved = [] if found is None else run_repo.list_run_files(
                    conn, found.id, names=["weights.txt"])
            # The summary may come in a later file_stream request than the last row.
            if (saved and history_count(live_server, saved[0].run_id) == 120
                    and found is not None and loads(found.summary).get("loss") == 1.0 / 120):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.25)
        else:
            raise AssertionError("the running run's rows, file and summary never arrived")
        # Running: the rows are in the live tier.
        live = result(old_sdk.run(READ, args=(project, "reader1", str(tmp_path / "live"))))
        _check_read(live, "reader1", "running", old_sdk.version)
        gate.touch()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{out}\n{err[-4000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Finished and compacted: the rows are read from the Parquet export.
    wait_for_export(live_server, project, "reader1", 120)
    done = result(old_sdk.run(READ, args=(project, "reader1", str(tmp_path / "done"))))
    _check_read(done, "reader1", "finished", old_sdk.version)
    assert done["summary"]["final"] == 1
