"""Smoke tests of the benchmark harness itself (tiny sizes, seconds): the load generator
against a live server with zero loss, and the checks that would catch loss or wrong values."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from benchmarks import data, harness, load, read, wire


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Server]:
    srv = harness.start_server(tmp_path_factory.mktemp("bench-server"))
    yield srv
    srv.stop()


def test_load_generator_streams_every_line_without_loss(server: harness.Server) -> None:
    res = asyncio.run(load.ingest(server, "smoke", runs=3, lines_per_run=250, lpr=50))

    assert res.points == 3 * 250 * data.N_METRICS
    assert len(res.stats.latencies) == 3 * 5
    assert res.stats.retried == 0
    ok, detail = load.verify(server, "smoke", res.names, 250)
    assert ok, detail
    # Independently of verify(): the stored lines are exactly the generated ones.
    from tracklet.storage.history.live.read import history_lines
    from tracklet.storage.metadata import runs as run_repo

    storage = server.storage()
    try:
        with storage.db.read() as conn:
            run = run_repo.find_run_by_path(conn, harness.ENTITY, "smoke", res.names[2])
            assert run is not None
            stored = history_lines(conn, run.id)
    finally:
        storage.close()
    assert stored == data.history_lines(2, 0, 250)


def test_columnar_reader_reads_exact_columns_request_after_request(
        server: harness.Server) -> None:
    res = asyncio.run(load.ingest(server, "columnar", runs=2, lines_per_run=300, lpr=100))
    reader = read.ColumnarReader(server.url, server.key)
    try:
        first, second = (f"{harness.ENTITY}/columnar/{name}" for name in res.names)
        assert read.check_columns(reader.scan(first, [read.METRIC]), 300, read.METRIC) is None
        other = reader.scan(second, [read.METRIC])
        assert other["m3"].tolist() == [data.value(1, s, 3) for s in range(300)]
        with pytest.raises(read.Unsupported, match=read.NOT_IMPLEMENTED):
            reader.scan(f"{harness.ENTITY}/columnar/nope", [read.METRIC])
        # The reader still serves after an error answer.
        assert read.check_columns(reader.scan(first, [read.METRIC]), 300, read.METRIC) is None
    finally:
        reader.close()


def test_verify_catches_missing_and_wrong_rows(server: harness.Server) -> None:
    names = ["gap", "bad"]

    async def write() -> None:
        client = wire.Wire(server.url, server.key, connections=2)
        try:
            for n in names:
                await client.upsert_run("broken", n)
            await client.file_stream(harness.ENTITY, "broken", "gap",
                                     wire.history_payload(0, data.history_lines(0, 0, 9)))
            lines = data.history_lines(1, 0, 10)
            obj = orjson.loads(lines[7])
            obj["m4"] += 1
            lines[7] = orjson.dumps(obj).decode()
            await client.file_stream(harness.ENTITY, "broken", "bad",
                                     wire.history_payload(0, lines))
        finally:
            await client.close()

    asyncio.run(write())
    ok, detail = load.verify(server, "broken", ["gap"], 10)
    assert not ok and "row counts" in detail
    ok, detail = load.verify(server, "broken", ["bad"], 10, first_run=1)
    assert not ok and "step 7 m4" in detail


def test_generated_lines_parse_back_to_the_generated_values() -> None:
    for run, step in [(0, 0), (3, 17), (255, 999_999)]:
        obj = orjson.loads(data.history_line(run, step))
        assert obj["_step"] == step
        assert data.check_row(run, obj) is None
        assert obj == {**obj, **data.row(run, step)}
    assert data.check_row(1, orjson.loads(data.history_line(2, 5))) is not None


def test_readme_section_is_replaced_not_duplicated(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro\n")
    harness.update_readme("load-x1", "second", path=readme)
    harness.update_readme("read-x1", "other", path=readme)
    harness.update_readme("load-x1", "third", path=readme)
    text = readme.read_text()
    assert text.count("BEGIN load-x1") == 1
    assert "third" in text and "second" not in text and "other" in text
    assert text.startswith("# Benchmarks\n\nintro\n")


def test_scan_check_accepts_exact_rows_and_rejects_gaps_and_wrong_values() -> None:
    from benchmarks import read

    rows = [{"_step": s, "m3": data.value(0, s, 3)} for s in range(50)]
    assert read.check_scan(rows, 50, ["m3"]) is None
    assert read.check_scan(rows[:49], 50, ["m3"]) == "49 rows, want 50"
    assert "_step" in str(read.check_scan(rows[:10] + rows[11:] + rows[:1], 50, ["m3"]))
    rows[20] = {"_step": 20, "m3": rows[20]["m3"] + 1 / 256}
    assert "step 20 m3" in str(read.check_scan(rows, 50, ["m3"]))


def test_columnar_check_accepts_exact_columns_and_rejects_gaps_and_wrong_values() -> None:
    import numpy as np

    from benchmarks import read

    steps = np.arange(50)
    values = np.array([data.value(0, s, 3) for s in range(50)])
    assert read.check_columns({"_step": steps, "m3": values}, 50, "m3") is None
    assert "steps" in str(read.check_columns({"_step": steps[1:], "m3": values[1:]}, 50, "m3"))
    assert "want _step and m3" in str(read.check_columns({"_step": steps}, 50, "m3"))
    wrong = values.copy()
    wrong[20] += 1 / 256
    assert "step 20" in str(read.check_columns({"_step": steps, "m3": wrong}, 50, "m3"))


def test_profile_summary_shares_add_up(tmp_path: Path) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(
        "process 1:\"python\";thread (0x1);handler (a/app.py:3);write (b/db.py:9) 30\n"
        "process 1:\"python\";thread (0x1);handler (a/app.py:3);parse (c/js.py:1) 10\n")
    text = load.summarize_profile(raw)
    assert text.startswith("40 samples")
    assert " 75.0%  write (db.py)" in text
    assert "100.0%  handler (app.py)" in text


@pytest.mark.parametrize("rate", [None, 40_000.0], ids=["closed", "paced"])
def test_soak_counts_every_acknowledged_row(tmp_path: Path, rate: float | None) -> None:
    from benchmarks import soak

    args = argparse.Namespace(db=None, blobs=None)
    res = soak.soak(args, tmp_path, runs=3, seconds=2.0, lpr=50, interval=0.5, rate_pps=rate)
    assert res.ok, res.detail
    assert res.lines > 0 and len(res.stats.latencies) >= 3 and res.rss
    if rate is not None:  # about 2 s at 4,000 lines/s, never more than was produced
        assert 0.5 * 2 * rate / data.N_METRICS <= res.lines <= 2 * rate / data.N_METRICS
    assert soak.table(res).rows
