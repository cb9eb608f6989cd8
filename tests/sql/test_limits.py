"""The row limit cuts an answer and says so; the time limit stops a statement with a clear
message while the server keeps answering; more statements than the server runs at once
are told to retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pyarrow.ipc as ipc
import pytest

from tests.support.app import InProcessApp, in_process_app
from tracklet.config import Settings

SLOW = "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range < 0"


@pytest.fixture
def limited(app_settings: Settings) -> Iterator[InProcessApp]:
    """The app with a 5-row limit, a 1.5 s time limit and one statement at a time."""
    settings = replace(app_settings, query_max_rows=5, query_timeout_s=1.5,
                       query_concurrency=1)
    with in_process_app(settings) as running:
        yield running


def post(app: InProcessApp, sql: str, **body: Any) -> Any:
    return app.client.post("/api/v1/query", json={"sql": sql, **body})


def test_the_row_limit_cuts_and_says_so(limited: InProcessApp) -> None:
    response = post(limited, "SELECT * FROM range(100) t(i) ORDER BY i")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"] == [[0], [1], [2], [3], [4]]
    assert body["truncated"] is True and body["row_limit"] == 5
    assert response.headers["X-Tracklet-Truncated"] == "true"
    # A caller may ask for fewer, never for more.
    assert post(limited, "SELECT * FROM range(100)", max_rows=2).json()["rows"] == [[0], [1]]
    assert post(limited, "SELECT * FROM range(100)", max_rows=50).json()["row_count"] == 5
    exact = post(limited, "SELECT * FROM range(5)").json()
    assert exact["row_count"] == 5 and exact["truncated"] is False
    # Arrow says it in the schema metadata.
    arrow = post(limited, "SELECT * FROM range(100)", format="arrow")
    table = ipc.open_stream(arrow.content).read_all()
    assert table.num_rows == 5
    assert table.schema.metadata[b"tracklet.truncated"] == b"true"


def test_the_time_limit_stops_a_statement_and_the_server_keeps_answering(
        limited: InProcessApp) -> None:
    answers: dict[str, Any] = {}

    def slow() -> None:
        started = time.monotonic()
        answers["slow"] = post(limited, SLOW)
        answers["slow_s"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    health = limited.client.get("/health")
    runs = limited.client.get("/api/v1/runs/history",
                              params={"run": "admin/none/none", "keys": "a"})
    assert health.status_code == 200 and runs.status_code == 404
    assert time.monotonic() - started < 1.0
    # One statement at a time here: a second one waits a second, then is told to retry.
    busy = post(limited, "SELECT 1")
    thread.join(30)
    assert busy.status_code == 503 and "Retry-After" in busy.headers, busy.text
    response = answers["slow"]
    assert response.status_code == 400, response.text
    assert "time limit of 1.5 s" in response.json()["error"]
    assert answers["slow_s"] < 6
    # The slot is free again.
    assert post(limited, "SELECT 1").json()["rows"] == [[1]]


@pytest.mark.parametrize(("body", "message"), [
    ({}, "sql is required"),
    ({"sql": ""}, "sql is required"),
    ({"sql": 1}, "sql must be a str"),
    ({"sql": "SELECT 1", "format": "xml"}, "format must be one of"),
    ({"sql": "SELECT 1", "max_rows": -1}, "max_rows must not be negative"),
    ({"sql": "SELECT 1", "max_rows": "9"}, "max_rows must be a int"),
    ({"sql": "SELECT 1", "scope": "a//b"}, "scope must be entity or entity/project"),
    ({"sql": "SELECT 1 +"}, "SQL error"),
    ({"sql": "SELECT 1/0::INTEGER, 'x'::INTEGER"}, "SQL error"),
])
def test_bad_requests_are_400(app: InProcessApp, body: dict[str, Any], message: str) -> None:
    response = app.client.post("/api/v1/query", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_a_body_that_is_not_an_object_is_400(app: InProcessApp) -> None:
    response = app.client.post("/api/v1/query", json=["SELECT 1"])
    assert response.status_code == 400 and "JSON object" in response.json()["error"]


ODD_TYPES = ("SELECT 2::HUGEINT * 10000000000000000000000 AS h, 1.5::DECIMAL(10,2) AS d, "
             "INTERVAL 1 DAY AS i, DATE '2020-01-01' AS dt, TIME '10:00:00' AS t, "
             "'x'::BLOB AS b, {'a': 1} AS s, [1, 2] AS l, MAP {'k': 1} AS m, "
             "'nan'::DOUBLE AS n, NULL AS z, 1::UTINYINT AS ut, 'a'::ENUM('a', 'b') AS en, "
             "'-inf'::FLOAT AS f, TIMESTAMP '2020-01-01 00:00:00' AS ts")


@pytest.mark.parametrize("fmt", ["json", "arrow"])
def test_every_result_type_is_answered(app: InProcessApp, fmt: str) -> None:
    response = app.client.post("/api/v1/query", json={"sql": ODD_TYPES, "format": fmt})
    assert response.status_code == 200, response.text
    if fmt == "arrow":
        assert ipc.open_stream(response.content).read_all().num_rows == 1
        return
    row = dict(zip([c["name"] for c in response.json()["columns"]],
                   response.json()["rows"][0], strict=True))
    assert row["h"] == 2 * 10**22 and row["d"] == 1.5 and row["dt"] == "2020-01-01"
    assert row["s"] == {"a": 1} and row["l"] == [1, 2] and row["n"] == "NaN"
    assert row["f"] == "-Infinity" and row["z"] is None and row["en"] == "a"
