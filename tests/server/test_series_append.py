"""GET /api/v1/runs/series with ``bucket_width``: a chart of running runs asks only for the
steps from its last bucket on, in buckets lined up with those it holds, and appends them.
The merged series equals a full answer on that axis and the oracle, on every tier (a live
run still logging, a checkpointed running run, a compacted run), in JSON and binary."""

from __future__ import annotations

from typing import Any

from tests.e2e.http_writer import HttpWriter
from tests.server.test_series_fields import ENTITY, KEYS, PROJECT, _rows, _tiers
from tests.support.app import InProcessApp
from tracklet.testing.series_oracle import (
    as_float64,
    expected_series,
    from_binary,
    mismatches,
    same_series,
)

RUNS = ",".join(f"{ENTITY}/{PROJECT}/{n}" for n in ("live", "checkpointed", "compacted"))


def _series(app: InProcessApp, query: str, binary: bool = False) -> Any:
    response = app.client.get(f"/api/v1/runs/series?runs={RUNS}&keys={','.join(KEYS)}"
                              + query + ("&format=binary" if binary else ""))
    assert response.status_code == 200, response.text
    return from_binary(response.content) if binary else response.json()


def _append(old: dict[str, Any], new: dict[str, Any], k: int) -> dict[str, Any]:
    """The client's merge: ``old``'s buckets before ``k``, then ``new``'s (its bucket 0 is
    ``old``'s bucket ``k``)."""
    runs = []
    for a, b in zip(old["runs"], new["runs"], strict=True):
        series = {}
        for key in KEYS:
            sa, sb = a["series"][key], b["series"][key]
            keep = sum(1 for x in sa["bucket"] if x < k)
            series[key] = {c: sa[c][:keep] + ([x + k for x in sb[c]] if c == "bucket"
                                               else sb[c]) for c in sa}
        runs.append({"run": a["run"], "series": series})
    return {**old, "buckets": max(old["buckets"], k + new["buckets"]), "runs": runs}


def test_appended_buckets_equal_the_full_answer(app: InProcessApp) -> None:
    logged = _tiers(app)
    first = _series(app, "&buckets=300")
    first_binary = _series(app, "&buckets=300", binary=True)
    start, width = first["start"], first["bucketWidth"]
    assert (first_binary["start"], first_binary["bucketWidth"]) == (start, width)
    # The live run logs on; a poll asks from the last bucket it holds (k) on.
    more = _rows(4_000, 0)[2_500:]
    HttpWriter("", app.key, client=app.client).log(ENTITY, PROJECT, "live", more,
                                                   offset=2_500)
    logged["live"] = logged["live"] + more
    k = max(first["runs"][0]["series"]["loss"]["bucket"])
    for binary in (False, True):
        old = first_binary if binary else first
        new = _series(app, f"&min_step={start + k * width}&bucket_width={width}", binary)
        assert (new["start"], new["bucketWidth"]) == (start + k * width, width)
        merged = _append(old, new, k)
        for entry, rows in zip(merged["runs"], logged.values(), strict=True):
            for key in KEYS:
                want = expected_series(rows, key, start, width)
                if binary:
                    want = as_float64(want)
                got = entry["series"][key]
                assert not mismatches(got, want), (entry["run"], key, binary)
                assert len(got["bucket"]) == len(want["bucket"])
        assert merged["buckets"] == -(-4_000 // width)
    # The same width from the axis's own start is the whole answer again.
    again = _series(app, f"&min_step={start}&bucket_width={width}")
    for entry, rows in zip(again["runs"], logged.values(), strict=True):
        for key in KEYS:
            assert not mismatches(entry["series"][key],
                                  expected_series(rows, key, start, width))
    assert same_series(again["runs"][1]["series"]["acc"],
                       first["runs"][1]["series"]["acc"])


def test_bucket_width_needs_min_step_and_a_bounded_axis(app: InProcessApp) -> None:
    _tiers(app)
    for query, needle in (("&bucket_width=10", "min_step"),
                          ("&bucket_width=0&min_step=0", "positive"),
                          ("&bucket_width=x&min_step=0", "bucket_width"),
                          ("&bucket_width=1&min_step=-100000", "wider buckets")):
        response = app.client.get(f"/api/v1/runs/series?runs={RUNS}&keys=loss{query}")
        assert response.status_code == 400, (query, response.text)
        assert needle in response.json()["error"], (query, response.json())
    # Past the last step: an empty axis at min_step.
    empty = _series(app, "&min_step=1000000&bucket_width=7")
    assert (empty["start"], empty["bucketWidth"], empty["buckets"]) == (1_000_000, 7, 0)
