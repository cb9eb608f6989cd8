"""``tracklet backup`` of a running SQLite deployment and ``tracklet restore`` into a new
data folder: the restored server answers the same key with the same runs, history and
files (read back with ``wandb.Api()``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import make_api, start_server
from tests.e2e.transfer_source import PROJECT, WEIGHTS, fill_source
from tracklet.cli import cli


def test_backup_while_serving_then_restore(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source = start_server(tmp_path / "source")
    backup_dir = tmp_path / "backup"
    try:
        entity = fill_source(source, tmp_path / "sdk")
        made = CliRunner().invoke(cli, ["backup", str(backup_dir),
                                        "--data-dir", str(source.data_dir)])
        assert made.exit_code == 0, made.output
        assert "the server secret" in made.output
        again = CliRunner().invoke(cli, ["backup", str(backup_dir),
                                         "--data-dir", str(source.data_dir)])
        assert again.exit_code == 0 and "0 new blobs" in again.output, again.output
        api = make_api(source, tmp_path / "api-source", monkeypatch)
        before = {r.id: json.dumps(list(r.scan_history()), sort_keys=True)
                  for r in api.runs(f"{entity}/{PROJECT}")}
    finally:
        source.stop()
    assert (backup_dir / "tracklet.db").stat().st_mode & 0o077 == 0

    target_dir = tmp_path / "restored"
    restored = CliRunner().invoke(cli, ["restore", str(backup_dir),
                                        "--data-dir", str(target_dir)])
    assert restored.exit_code == 0, restored.output
    twice = CliRunner().invoke(cli, ["restore", str(backup_dir),
                                     "--data-dir", str(target_dir)])
    assert twice.exit_code == 1 and "without a database" in twice.output
    target = start_server(target_dir)  # the same admin key: the secret came back too
    try:
        api = make_api(target, tmp_path / "api-target", monkeypatch)
        after = {r.id: json.dumps(list(r.scan_history()), sort_keys=True)
                 for r in api.runs(f"{entity}/{PROJECT}")}
        assert after == before and len(after) == 3
        down = tmp_path / "down"
        api.run(f"{entity}/{PROJECT}/first-run").file("weights.bin").download(
            root=str(down), replace=True).close()
        assert (down / "weights.bin").read_bytes() == WEIGHTS
        art = api.artifact(f"{entity}/{PROJECT}/dataset:best")
        assert (Path(art.download(root=str(tmp_path / "art"))) / "weights.bin").read_bytes() \
            == WEIGHTS
    finally:
        target.stop()


def test_backup_refuses_postgresql_with_a_pointer(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["backup", str(tmp_path / "b"), "--data-dir",
                                      str(tmp_path), "--db", "postgresql://u@127.0.0.1:1/x"])
    assert result.exit_code == 1 and "pg_dump" in result.output
