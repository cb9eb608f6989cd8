"""GET /metrics: Prometheus text of this process's requests, latencies, file_stream rows and
blob store failures, for admin users only."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import urlparse

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp
from tracklet.errors import NotFound
from tracklet.storage.history.compaction import compact_now
from tracklet.storage.metadata.runs import find_run_by_path

ROUTE = "/files/{entity}/{project}/{run}/file_stream"


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample line (comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_metrics_count_requests_latencies_and_rows(app: InProcessApp) -> None:
    assert app.graphql("{ viewer { username } }")["data"]["viewer"]["username"] == "admin"
    HttpWriter("", app.key, client=app.client).create_run(
        "admin", "metrics", "r1")
    lines = [f'{{"_step": {i}, "loss": {i / 10}}}' for i in range(25)]
    for offset in (0, 25):
        response = app.client.post("/files/admin/metrics/r1/file_stream", json={"files": {
            "wandb-history.jsonl": {"offset": offset, "content": lines},
            "output.log": {"offset": offset, "content": ["a\n", "b\n"]}}})
        assert response.status_code == 200, response.text
    assert app.client.get("/no/such/route/here/at/all").status_code == 404
    response = app.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    requests = 'tracklet_http_requests_total{route="%s",method="POST",status="200"}'
    assert samples[requests % ROUTE] == 2
    assert samples[requests % "/graphql"] >= 1
    assert samples['tracklet_http_requests_total{route="unmatched",method="GET",'
                   'status="404"}'] == 1
    assert samples['tracklet_file_stream_rows_total{kind="history"}'] == 50
    assert samples['tracklet_file_stream_rows_total{kind="console"}'] == 4
    buckets = [(le, n) for name, n in samples.items()
               if (m := re.fullmatch(r'tracklet_http_request_duration_seconds_bucket\{route='
                                     rf'"{re.escape(ROUTE)}",le="([^"]+)"\}}', name))
               for le in [m.group(1)]]
    assert buckets[-1] == ("+Inf", 2) and [n for _, n in buckets] == sorted(
        n for _, n in buckets), "cumulative buckets"
    count = samples[f'tracklet_http_request_duration_seconds_count{{route="{ROUTE}"}}']
    assert count == 2
    assert samples[f'tracklet_http_request_duration_seconds_sum{{route="{ROUTE}"}}'] > 0
    for gauge in ("tracklet_ingest_queue_requests", "tracklet_compaction_backlog_runs",
                  "tracklet_compaction_lag_seconds", "tracklet_db_pool_connections_in_use"):
        assert gauge in samples
    assert samples["tracklet_compaction_backlog_runs"] == 0
    assert samples["tracklet_compaction_lag_seconds"] == 0


def test_a_waiting_compaction_shows_as_backlog_and_lag(app: InProcessApp) -> None:
    """The in-process app does not compact (tests choose when): a finished run waits."""
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "metrics", "done")
    writer.log("admin", "metrics", "done", [{"x": 1}], finish=True)
    samples = _samples(app.client.get("/metrics").text)
    assert samples["tracklet_compaction_backlog_runs"] == 1
    assert 0 <= samples["tracklet_compaction_lag_seconds"] < 60


def test_metrics_are_for_admins_only(app: InProcessApp) -> None:
    _user, key = app.storage.create_user("metrics-reader")
    response = app.client.get("/metrics", auth=("api", key))
    assert response.status_code == 403
    assert "admin" in response.json()["errors"][0]["message"]
    assert app.client.get("/metrics", auth=None).status_code == 401


def _break_blob_store(app: InProcessApp) -> None:
    """Make the deployment's blob store refuse writes for real: the S3 bucket deleted, or
    the local store's staging folder replaced by a file."""
    if app.settings.blobs.startswith("s3://"):
        import boto3

        bucket = urlparse(app.settings.blobs).netloc
        s3 = boto3.client("s3", endpoint_url=app.settings.s3_endpoint_url,
                          region_name="us-east-1")
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
        return
    staging = app.settings.resolved_data_dir / "blobs" / ".tmp"
    shutil.rmtree(staging)
    staging.write_bytes(b"not a folder")


def test_blob_store_failures_are_counted_by_operation(app: InProcessApp) -> None:
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "metrics", "doomed")
    writer.log("admin", "metrics", "doomed", [{"x": i} for i in range(10)], finish=True)
    with app.storage.db.read() as conn:
        run = find_run_by_path(conn, "admin", "metrics", "doomed")
    assert run is not None
    # A missing object is an answer, not a failure.
    with pytest.raises(NotFound):
        app.storage.blobs.open("no/such/blob")
    samples = _samples(app.client.get("/metrics").text)
    assert not [name for name in samples if name.startswith("tracklet_blob_store_errors")]

    _break_blob_store(app)
    with pytest.raises(Exception) as failed:
        compact_now(app.storage, run.id)
    error = type(failed.value).__name__
    assert error in ("NoSuchBucket", "NotADirectoryError"), repr(failed.value)
    text = app.client.get("/metrics").text
    assert "# TYPE tracklet_blob_store_errors_total counter" in text
    samples = _samples(text)
    errors = {name: n for name, n in samples.items()
              if name.startswith("tracklet_blob_store_errors_total")}
    assert errors == {f'tracklet_blob_store_errors_total{{operation="put",error="{error}"}}': 1}
    # Nothing was lost: the rows are still read from the live tier.
    history = app.graphql('{ project(name: "metrics", entityName: "admin") { run(name: "doomed")'
                          ' { history(samples: 100) } } }')
    rows = history["data"]["project"]["run"]["history"]
    assert sorted(json.loads(r)["x"] for r in rows) == list(range(10))
