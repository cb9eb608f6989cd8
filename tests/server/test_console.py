"""GET /api/v1/runs/console: pages of a run's console lines, rewrites applied, searchable."""

from __future__ import annotations

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp


def _console(writer: HttpWriter, offset: int, lines: list[str]) -> None:
    writer.stream("admin", "console", "r1", {"output.log": {"offset": offset, "content": lines}})


def test_pages_search_and_rewritten_lines(app: InProcessApp) -> None:
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "console", "r1")
    _console(writer, 0, [f"2026-01-01T00:00:00.000000 line {i}" for i in range(25)])
    # A `\r` progress bar rewrites line 24 in place; stderr lines come as "ERROR ...".
    _console(writer, 24, ["2026-01-01T00:00:01.000000 progress 100%",
                          "ERROR 2026-01-01T00:00:02.000000 \x1b[31mboom\x1b[0m <b>"])
    url = "/api/v1/runs/console?run=admin/console/r1"
    first = app.client.get(url + "&limit=10").json()
    assert first["total"] == 26 and first["next"] == 9
    assert [i for i, _ in first["lines"]] == list(range(10))
    rest = app.client.get(f"{url}&after=9&limit=100").json()
    assert rest["next"] is None and [i for i, _ in rest["lines"]] == list(range(10, 26))
    assert rest["lines"][-2][1].endswith("progress 100%")
    assert rest["lines"][-1][1] == "ERROR 2026-01-01T00:00:02.000000 \x1b[31mboom\x1b[0m <b>"
    found = app.client.get(url + "&q=BOOM").json()
    assert [i for i, _ in found["lines"]] == [25] and found["total"] == 26
    # LIKE wildcards in the search are literal text.
    assert app.client.get(url + "&q=line%25").json()["lines"] == []


def test_bad_input_and_unknown_runs(app: InProcessApp) -> None:
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "console", "r1")
    for query, words in (("run=admin/console", "entity/project/run"),
                         ("run=admin/console/r1&limit=0", "limit must be between"),
                         ("run=admin/console/r1&after=x", "after must be an integer")):
        response = app.client.get(f"/api/v1/runs/console?{query}")
        assert response.status_code == 400 and words in response.json()["error"], query
    missing = app.client.get("/api/v1/runs/console?run=admin/console/nope")
    assert missing.status_code == 404
    empty = app.client.get("/api/v1/runs/console?run=admin/console/r1").json()
    assert empty == {"run": "admin/console/r1", "total": 0, "lines": [], "next": None}
