"""The backends and importers benchmarks at smoke size: they run on PostgreSQL + S3 and
check every row."""

from __future__ import annotations

import pytest

from benchmarks import backends, harness, importers
from tests.conftest import PostgresServer, S3Server


@pytest.mark.postgresql
@pytest.mark.s3
def test_backends_benchmark_quick(postgres_server: PostgresServer, s3_server: S3Server,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRACKLET_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setattr(harness, "SERVER_ENV", {})
    assert backends.main(["--quick", "--no-readme", "--only", "load", "--runs", "4",
                          "--db", postgres_server.url,
                          "--blobs", f"s3://{s3_server.create_bucket()}/b"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("SQLite", "PostgreSQL"))]
    assert len(rows) == 3 and all(line.rstrip().endswith("yes") for line in rows), out


def test_import_wandb_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert importers.main(["--quick", "--no-readme", "--only", "wandb"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("import-wandb"))
    assert row.rstrip().endswith("yes"), out
