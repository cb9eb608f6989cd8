"""`tracklet export` / `tracklet import`: runs, history, system metrics, console, files and
artifacts with their lineage, written by the real wandb SDK to a server on SQLite + local
disk, exported, imported into PostgreSQL + S3 and compared row by row and byte by byte,
then read back through ``wandb.Api()`` from a server on the target."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
from tests.e2e.conftest import LiveServer, make_api, start_server
from tests.e2e.transfer_source import PROJECT, WEIGHTS, fill_source
from tracklet.cli import cli
from tracklet.config import Settings
from tracklet.storage import Storage
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_outputs,
    artifact_types,
    artifact_usages,
    artifacts,
    console,
    entities,
    events,
    projects,
    run_files,
    runs,
    users,
)
from tracklet.storage.transfer import import_folder

pytestmark = [pytest.mark.postgresql, pytest.mark.s3]


@dataclass
class Source:
    server: LiveServer
    export_dir: Path
    entity: str


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A server on SQLite + local disk filled by the real SDK (two finished runs, one using
    the other's artifact) and one run still running (written over the wire), exported."""
    server = start_server(tmp_path_factory.mktemp("source"))
    try:
        entity = fill_source(server, tmp_path_factory.mktemp("sdk"))
        export_dir = tmp_path_factory.mktemp("export")
        result = CliRunner().invoke(cli, ["export", f"{entity}/{PROJECT}", str(export_dir),
                                          "--data-dir", str(server.data_dir)])
        assert result.exit_code == 0, result.output
        assert "3 runs" in result.output
        yield Source(server, export_dir, entity)
    finally:
        server.stop()


def _sha(storage: Storage, key: str | None) -> str | None:
    return None if key is None else hashlib.sha256(b"".join(storage.blobs.open(key))).hexdigest()


def snapshot(storage: Storage, entity: str, project: str) -> dict[str, Any]:
    """Everything an export carries, by names instead of ids, blobs by their SHA-256."""
    out: dict[str, Any] = {"runs": {}, "artifacts": []}
    with storage.db.read() as conn:
        pid = conn.execute(select(projects.c.id).join(entities).where(
            entities.c.name == entity, projects.c.name == project)).scalar_one()
        run_rows = conn.execute(select(runs, users.c.username).outerjoin(
            users, users.c.id == runs.c.user_id).where(runs.c.project_id == pid)).all()
        names = {r.id: r.name for r in run_rows}
        for r in run_rows:
            row = {k: v for k, v in r._mapping.items() if k not in ("id", "project_id",
                                                                     "user_id")}
            row["events"] = [tuple(e) for e in conn.execute(select(
                events.c.line, events.c.data).where(events.c.run_id == r.id)
                .order_by(events.c.line))]
            row["console"] = [tuple(c) for c in conn.execute(select(
                console.c.line, console.c.text).where(console.c.run_id == r.id)
                .order_by(console.c.line))]
            row["files"] = [{**{k: v for k, v in f._mapping.items() if k != "run_id"},
                             "bytes": _sha(storage, f.blob_key)}
                            for f in conn.execute(select(run_files).where(
                                run_files.c.run_id == r.id).order_by(run_files.c.name))]
            out["runs"][r.name] = row
        versions = conn.execute(select(artifacts, artifact_collections.c.name.label("coll"),
                                       artifact_types.c.name.label("type"))
                                .join(artifact_collections,
                                      artifact_collections.c.id == artifacts.c.sequence_id)
                                .join(artifact_types, artifact_types.c.id == artifacts.c.type_id)
                                .where(artifact_collections.c.project_id == pid)
                                .order_by(artifacts.c.version_index)).all()
        for v in versions:
            out["artifacts"].append({
                **{k: val for k, val in v._mapping.items()
                   if k not in ("id", "sequence_id", "type_id", "created_by_run_id",
                                "manifest_blob_key", "base_artifact_id")},
                "created_by": names.get(v.created_by_run_id),
                "manifest": _sha(storage, v.manifest_blob_key),
                "aliases": sorted(conn.execute(select(artifact_aliases.c.alias).where(
                    artifact_aliases.c.artifact_id == v.id)).scalars()),
                "files": [(f.path, f.digest, f.size, f.ref, f.extra, _sha(storage, f.blob_key))
                          for f in conn.execute(select(artifact_files).where(
                              artifact_files.c.artifact_id == v.id)
                              .order_by(artifact_files.c.path))],
                "used_by": sorted(names[u] for u in conn.execute(select(
                    artifact_usages.c.run_id).where(
                    artifact_usages.c.artifact_id == v.id)).scalars()),
                "logged_by": sorted(names[u] for u in conn.execute(select(
                    artifact_outputs.c.run_id).where(
                    artifact_outputs.c.artifact_id == v.id)).scalars()),
            })
    for run_id, name in names.items():
        with open_history(storage, run_id) as view:
            out["runs"][name]["history"] = [json.dumps(r.data, sort_keys=True)
                                            for r in view.rows()]
    return out


def _source_snapshot(source: Source) -> dict[str, Any]:
    store = Storage.open(Settings(data_dir=source.server.data_dir), migrate=False)
    try:
        return snapshot(store, source.entity, PROJECT)
    finally:
        store.close()


def test_round_trip_sqlite_to_postgresql_and_s3(
        source: Source, postgres_server: PostgresServer, s3_server: S3Server,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _source_snapshot(source)
    assert len(expected["runs"]) == 3 and len(expected["artifacts"]) == 1
    first = expected["runs"]["first-run"]
    assert len(first["history"]) == 400 and first["files"] and first["console"]
    assert expected["runs"]["still-running"]["events"]
    assert expected["artifacts"][0]["used_by"] == ["second-run"]
    assert expected["artifacts"][0]["created_by"] == "first-run"

    db = postgres_server.create_database()
    bucket = s3_server.create_bucket()
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    target = start_server(tmp_path / "target", env=env, db=db, blobs=f"s3://{bucket}/t")
    try:
        args = ["import", str(source.export_dir), "--data-dir", str(tmp_path / "cli"),
                "--db", db, "--blobs", f"s3://{bucket}/t"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "3 runs (0 already there)" in result.output
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0 and "0 runs (3 already there)" in again.output, \
            again.output
        store = Storage.open(Settings(data_dir=tmp_path / "cli", db=db,
                                      blobs=f"s3://{bucket}/t",
                                      s3_endpoint_url=s3_server.endpoint_url), migrate=False)
        try:
            assert snapshot(store, source.entity, PROJECT) == expected
        finally:
            store.close()
        _read_back_with_the_sdk(source, target, tmp_path, monkeypatch)
    finally:
        target.stop()
        postgres_server.drop_database(db)


def _read_back_with_the_sdk(source: Source, target: LiveServer, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = make_api(source.server, tmp_path / "api-source", monkeypatch)
    after = make_api(target, tmp_path / "api-target", monkeypatch)
    for old in before.runs(f"{source.entity}/{PROJECT}"):
        new = after.run(f"{source.entity}/{PROJECT}/{old.id}")
        assert (new.name, new.state, new.group, new.tags, new.notes) == \
            (old.name, old.state, old.group, old.tags, old.notes)
        assert new.config == old.config and new.summary_metrics == old.summary_metrics
        assert json.dumps(list(new.scan_history()), sort_keys=True) == \
            json.dumps(list(old.scan_history()), sort_keys=True)
    art = after.artifact(f"{source.entity}/{PROJECT}/dataset:best")
    path = Path(art.download(root=str(tmp_path / "art")))
    assert (path / "weights.bin").read_bytes() == WEIGHTS
    assert [r.name for r in art.used_by()] and art.logged_by().name == "first run"


def test_an_interrupted_import_resumes_and_stores_nothing_twice(
        source: Source, tmp_path: Path) -> None:
    expected = _source_snapshot(source)
    store = Storage.open(Settings(data_dir=tmp_path / "target"))
    try:
        def stop_after_one(what: str, done: int, total: int) -> None:
            if done == 1 and total == 3:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            import_folder(store, source.export_dir, progress=stop_after_one)
        with store.db.read() as conn:
            assert len(conn.execute(select(runs.c.name)).all()) == 1, "whole runs only"
        report = import_folder(store, source.export_dir)
        assert (report.runs, report.runs_skipped) == (2, 1)
        assert snapshot(store, source.entity, PROJECT) == expected
        report = import_folder(store, source.export_dir)
        assert (report.runs, report.runs_skipped, report.artifact_projects_skipped) == (0, 3, 1)
        assert snapshot(store, source.entity, PROJECT) == expected
    finally:
        store.close()


def test_exporting_again_skips_unchanged_runs(source: Source, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(source.export_dir),
                                      "--data-dir", str(source.server.data_dir)])
    assert result.exit_code == 0, result.output
    assert "0 runs (3 unchanged)" in result.output and "0 new blobs" in result.output
    manifest = json.loads((source.export_dir / "manifest.json").read_text())
    assert manifest["projects"] == [{"entity": source.entity, "project": PROJECT}]
