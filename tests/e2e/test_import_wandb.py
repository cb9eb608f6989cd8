"""``tracklet import-wandb``: a project copied from a second live tracklet server (filled by
the real SDK) through ``wandb.Api()``, then read back through ``wandb.Api()`` from the
target: runs, history, system metrics, files, console and artifacts with lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import make_api, start_server
from tests.e2e.transfer_source import PROJECT, WEIGHTS, fill_source
from tracklet.cli import cli


def _files(run: Any, root: Path) -> dict[str, bytes]:
    out = {}
    for f in run.files():
        f.download(root=str(root), replace=True).close()
        out[f.name] = (root / f.name).read_bytes()
    return out


def test_import_wandb_from_another_tracklet(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    source = start_server(tmp_path / "source")
    target_dir = tmp_path / "target"
    try:
        entity = fill_source(source, tmp_path / "sdk")
        args = ["import-wandb", f"{entity}/{PROJECT}", "--base-url", source.url,
                "--api-key", source.key, "--data-dir", str(target_dir),
                "--keep", str(tmp_path / "fetched")]
        monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
        monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
        monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "3 runs (0 already here)" in result.output
        assert (tmp_path / "fetched" / "manifest.json").exists()
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0, again.output
        assert "0 runs (3 already here)" in again.output

        target = start_server(target_dir)
        try:
            old_api = make_api(source, tmp_path / "api-source", monkeypatch)
            new_api = make_api(target, tmp_path / "api-target", monkeypatch)
            old_runs = {r.id: r for r in old_api.runs(f"{entity}/{PROJECT}")}
            new_runs = {r.id: r for r in new_api.runs(f"{entity}/{PROJECT}")}
            assert sorted(new_runs) == sorted(old_runs) == ["first-run", "second-run",
                                                             "still-running"]
            for run_id, old in old_runs.items():
                new = new_runs[run_id]
                assert (new.name, new.state, new.group, new.job_type, new.tags, new.notes) == \
                    (old.name, old.state, old.group, old.job_type, old.tags, old.notes)
                assert new.config == old.config
                assert new.summary_metrics == old.summary_metrics
                assert json.dumps(list(new.scan_history()), sort_keys=True) == \
                    json.dumps(list(old.scan_history()), sort_keys=True)
                assert new.history(stream="events", pandas=False) == \
                    old.history(stream="events", pandas=False)
                assert _files(new, tmp_path / "new" / run_id) == \
                    _files(old, tmp_path / "old" / run_id)
            assert _files(new_runs["first-run"], tmp_path / "w")["weights.bin"] == WEIGHTS
            art = new_api.artifact(f"{entity}/{PROJECT}/dataset:best")
            assert art.version == "v0" and "best" in art.aliases
            assert art.metadata == {"rows": 3}
            assert art.digest == old_api.artifact(f"{entity}/{PROJECT}/dataset:best").digest
            path = Path(art.download(root=str(tmp_path / "art")))
            assert (path / "weights.bin").read_bytes() == WEIGHTS
            assert art.logged_by().id == "first-run"
            assert [r.id for r in art.used_by()] == ["second-run"]
        finally:
            target.stop()
    finally:
        source.stop()
