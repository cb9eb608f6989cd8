"""``tracklet backup`` of a running SQLite deployment and ``tracklet restore`` into a new
data folder, and of a running PostgreSQL + S3 deployment (pg_dump and the bucket's blobs)
into a new database and bucket: the restored server answers the same key with the same runs,
history and files (read back with ``wandb.Api()``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
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


@pytest.mark.postgresql
@pytest.mark.s3
def test_postgresql_and_s3_backup_while_serving_then_restore(
        tmp_path: Path, postgres_server: PostgresServer, s3_server: S3Server,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """pg_dump of the database and a copy of every blob of the bucket, taken while the
    server runs, restored into a new database and an empty bucket."""
    monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", s3_server.endpoint_url)
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url}
    db, blobs = postgres_server.create_database(), f"s3://{s3_server.create_bucket()}/src"
    source = start_server(tmp_path / "source", env=env, db=db, blobs=blobs)
    backup_dir = tmp_path / "backup"
    stores = ["--data-dir", str(source.data_dir), "--db", db, "--blobs", blobs]
    try:
        entity = fill_source(source, tmp_path / "sdk")
        made = CliRunner().invoke(cli, ["backup", str(backup_dir), *stores])
        assert made.exit_code == 0, made.output
        assert "the server secret" in made.output
        again = CliRunner().invoke(cli, ["backup", str(backup_dir), *stores])
        assert again.exit_code == 0 and "0 new blobs" in again.output, again.output
        api = make_api(source, tmp_path / "api-source", monkeypatch)
        before = {r.id: json.dumps(list(r.scan_history()), sort_keys=True)
                  for r in api.runs(f"{entity}/{PROJECT}")}
    finally:
        source.stop()
        postgres_server.drop_database(db)  # the source is gone: only the backup is left
    dump = backup_dir / "tracklet.pgdump"
    assert dump.stat().st_mode & 0o077 == 0 and not (backup_dir / "tracklet.db").exists()
    assert any(p.is_file() for p in (backup_dir / "blobs").rglob("*"))

    # A PostgreSQL backup does not go into SQLite (export/import move between kinds).
    into_sqlite = CliRunner().invoke(cli, ["restore", str(backup_dir),
                                           "--data-dir", str(tmp_path / "sqlite")])
    assert into_sqlite.exit_code == 1 and "tracklet export" in into_sqlite.output
    target_db = postgres_server.create_database()
    target_blobs = f"s3://{s3_server.create_bucket()}/dst"
    into = ["--data-dir", str(tmp_path / "restored"), "--db", target_db,
            "--blobs", target_blobs]
    try:
        restored = CliRunner().invoke(cli, ["restore", str(backup_dir), *into])
        assert restored.exit_code == 0, restored.output
        twice = CliRunner().invoke(cli, ["restore", str(backup_dir), *into])
        assert twice.exit_code == 1 and "empty database" in twice.output, twice.output
        target = start_server(tmp_path / "restored", env=env, db=target_db,
                              blobs=target_blobs)
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
            assert (Path(art.download(root=str(tmp_path / "art"))) / "weights.bin"
                    ).read_bytes() == WEIGHTS
        finally:
            target.stop()
    finally:
        postgres_server.drop_database(target_db)
