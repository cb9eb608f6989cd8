"""GET /api/v1/runs/series with min_step/max_step: the range read at its own resolution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp, in_process_app
from tracklet.config import Settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[InProcessApp]:
    with in_process_app(Settings(data_dir=tmp_path / "data")) as app:
        yield app


def test_a_range_at_its_own_resolution(app: InProcessApp) -> None:
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "zoom", "r1")
    writer.log("admin", "zoom", "r1", [{"v": float(s)} for s in range(1000)])
    url = "/api/v1/runs/series?runs=admin/zoom/r1&keys=v&buckets=10"
    whole = app.client.get(url).json()
    assert (whole["start"], whole["bucketWidth"], whole["buckets"]) == (0, 100, 10)
    zoomed = app.client.get(url + "&min_step=250&max_step=260").json()
    assert (zoomed["start"], zoomed["bucketWidth"], zoomed["buckets"]) == (250, 1, 10)
    series = zoomed["runs"][0]["series"]["v"]
    assert series["firstStep"] == list(range(250, 260)) and series["last"][-1] == 259.0
    empty = app.client.get(url + "&min_step=5000").json()
    assert empty["buckets"] == 0 and empty["runs"][0]["series"]["v"]["bucket"] == []
    for bad in ("min_step=x", "max_step=1.5"):
        response = app.client.get(f"{url}&{bad}")
        assert response.status_code == 400 and "integer step" in response.json()["error"]
