"""History exports: exact round trips through tracklet's reader, and the layout the wandb
SDK's own Parquet reader (the native library behind ``scan_history``) accepts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.storage import sdk_parquet_reader
from tracklet.storage.history.export.cache import ExportReadCache
from tracklet.storage.history.export.format import ENCODING
from tracklet.storage.history.export.reader import ExportFile
from tracklet.storage.history.export.writer import chunk_rows, write_export
from tracklet.storage.history.rows import Row, dumps_row, same_json


def _rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for s in range(n):
        d: dict[str, Any] = {"_step": s * 2, "loss": 1.0 / (s + 1), "count": s,
                             "acc": 0 if s == 0 else s / 100, "name": f"n{s}",
                             "flag": s % 3 == 0, "big": 2**62 + s}
        if s % 5 == 0:
            d["val"] = s
        if s == 7:
            d["loss"] = float("nan")
        if s == 8:
            d["loss"] = float("-inf")
        d["img"] = {"_type": "image-file", "path": f"media/{s}.png", "width": 8, "height": 8}
        if s % 10 == 0:
            d["hist"] = {"_type": "histogram", "values": [1, 2, 3], "bins": [0.0, 0.5, 1.5, 2]}
        if s == 3:
            d["mixed"] = "x"
        if s == 4:
            d["mixed"] = 5
        if s == 9:
            d["maybe"] = None
        if s == 10:
            d["maybe"] = 3
        d["list"] = [s, s + 1]
        d["empty"] = {}
        rows.append(d)
    return rows


def _write(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[Path, Any]:
    path = tmp_path / "h.parquet"
    texts = [dumps_row(r) for r in rows]
    summary = write_export(lambda: [Row(r["_step"], text=t) for r, t in zip(rows, texts,
                                                                             strict=True)], path)
    return path, summary


def test_round_trip_is_exact(tmp_path: Path) -> None:
    rows = _rows(300)
    path, summary = _write(tmp_path, rows)
    reader = ExportFile(path, summary.keys)
    back = [r.data for r in reader.rows()]
    assert len(back) == len(rows)
    for got, want in zip(back, rows, strict=True):
        assert same_json(got, want), (got, want)
    assert isinstance(back[3]["count"], int) and isinstance(back[3]["big"], int)
    assert back[9]["maybe"] is None and "maybe" not in back[11]
    assert summary.rows == 300 and summary.min_step == 0 and summary.max_step == 598
    assert summary.keys["loss"].max == (1.0, 0)
    assert summary.keys["val"].count == 60
    assert [r.step for r in reader.rows(100, 120)] == list(range(100, 120, 2))
    assert [r.step for r in reader.rows_at([4, 7, 598, 1000])] == [4, 598]
    only = list(reader.rows(0, 10, keys=["val"]))
    assert only[0].data == {"_step": 0, "val": 0} and only[1].data == {"_step": 2}


def test_layout_is_columnar_and_typed(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, _rows(50))
    schema = pq.read_schema(path)
    assert schema.names[0] == "_step" and schema.field("_step").type == pa.int64()
    types = {f.name: f.type for f in schema}
    assert types["loss"] == pa.float64() and types["count"] == pa.int64()
    assert types["acc"] == pa.float64() and types["flag"] == pa.bool_()
    assert types["name"] == pa.string() and types["big"] == pa.int64()
    assert pa.types.is_struct(types["img"]) and pa.types.is_list(types["list"])
    for name in ("mixed", "empty"):
        assert schema.field(name).metadata == {ENCODING: b"json"}
    table = pq.read_table(path)
    assert table.column("_step").to_pylist() == sorted(table.column("_step").to_pylist())


def test_the_sdks_reader_reads_it(tmp_path: Path) -> None:
    rows = _rows(120)
    path, _ = _write(tmp_path, rows)
    everything = sdk_parquet_reader.scan(str(path), 0, 10**9)
    assert len(everything) == len(rows)
    for got, want in zip(everything, rows, strict=True):
        got = sdk_parquet_reader.as_sdk_row({k: v for k, v in got.items() if v is not None})
        for key, value in want.items():
            if key in ("mixed", "empty"):  # JSON-text columns reach the SDK as text
                assert got[key] == dumps_row(value)
            elif value is not None:
                assert same_json(got[key], value), (key, got[key], value)
    window = sdk_parquet_reader.scan(str(path), 20, 30, ["_step", "loss"])
    assert window == [{"_step": s, "loss": 1.0 / (s // 2 + 1)} for s in (20, 22, 24, 26, 28)]


def test_many_row_groups_and_keys(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(300)]
    rows = [{"_step": s, **{k: s + i for i, k in enumerate(keys)}} for s in range(20_000)]
    path, _ = _write(tmp_path, rows)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == math.ceil(20_000 / chunk_rows(301))
    reader = ExportFile(path)
    assert [r.step for r in reader.rows(9_990, 10_010)] == list(range(9_990, 10_010))
    last = sdk_parquet_reader.scan(str(path), 19_998, 20_000, ["_step", "k299"])
    assert last == [{"_step": 19_998, "k299": 20_297}, {"_step": 19_999, "k299": 20_298}]


# Integers span what the SDK's JSON can carry and the server's parser keeps exact (int64 and
# uint64); larger ones are read as floats on every tier alike.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text("abc", min_size=1, max_size=2),
                                                 inner, max_size=3)), max_leaves=6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values, max_size=4),
                min_size=1, max_size=12))
def test_any_logged_values_round_trip(tmp_path_factory: pytest.TempPathFactory,
                                      logged: list[dict[str, Any]]) -> None:
    rows = [{"_step": i, **row} for i, row in enumerate(logged)]
    path, summary = _write(tmp_path_factory.mktemp("h"), rows)
    back = [r.data for r in ExportFile(path, summary.keys).rows()]
    assert len(back) == len(rows)
    for got, want in zip(back, rows, strict=True):
        assert same_json(got, want), (got, want)


def _texts_match(reader: ExportFile, lo: int | None, hi: int | None) -> bool:
    """``texts()`` is ``rows()``'s text exactly, or None; says whether it answered."""
    texts = reader.texts(lo, hi)
    if texts is None:
        return False
    assert texts == [r.text for r in reader.rows(lo, hi)]
    return True


def test_texts_are_the_rows_text_column_wise(tmp_path: Path) -> None:
    rows = [{"_step": s, "loss": 1.0 / (s + 1), "count": s, "big": 2**62 + s,
             "name": f"n{s}", "flag": s % 3 == 0, **({"val": s * 0.5} if s % 7 == 0 else {})}
            for s in range(40_000)]
    path, summary = _write(tmp_path, rows)
    reader = ExportFile(path, summary.keys)
    assert len(reader.groups) > 1
    for lo, hi in ((None, None), (0, 1_000), (32_000, 33_500), (39_999, None), (50, 50)):
        assert _texts_match(reader, lo, hi)
    # Non-finite floats, explicit nulls, nested or JSON-text columns: the row-by-row path.
    (tmp_path / "nan").mkdir()
    nan, _ = _write(tmp_path / "nan", [{"_step": 0, "x": 1.0}, {"_step": 1, "x": math.nan}])
    assert ExportFile(nan).texts() is None
    assert ExportFile(nan).texts(0, 1) == ['{"_step":0,"x":1.0}']
    (tmp_path / "odd").mkdir()
    odd, odd_summary = _write(tmp_path / "odd", _rows(30))
    assert ExportFile(odd, odd_summary.keys).texts(0, 10) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), scalars, max_size=4),
                min_size=1, max_size=12))
def test_texts_of_any_scalars(tmp_path_factory: pytest.TempPathFactory,
                              logged: list[dict[str, Any]]) -> None:
    rows = [{"_step": i, **row} for i, row in enumerate(logged)]
    path, summary = _write(tmp_path_factory.mktemp("h"), rows)
    reader = ExportFile(path, summary.keys)
    _texts_match(reader, None, None)
    _texts_match(reader, 1, len(rows) - 1)


def test_a_file_rewritten_in_place_is_never_read_from_the_caches(tmp_path: Path) -> None:
    # The footer index and decoded row groups are cached per file: a new file at the same
    # path (other rows, other columns) must be read as itself.
    cache = ExportReadCache()
    first = [{"_step": s, "a": float(s)} for s in range(50)]
    path, _ = _write(tmp_path, first)
    assert ExportFile(path, cache=cache).records(0, 50, ["a", "_step"]) == first
    assert ExportFile(path, cache=cache).count(0, 1000) == 50
    second = [{"_step": s, "b": s * 3, "a": -1.5} for s in range(10, 90)]
    path2, _ = _write(tmp_path, second)
    assert path2 == path
    reader = ExportFile(path, cache=cache)
    assert reader.keys == ["b", "a"] and reader.count(0, 1000) == 80
    assert reader.records(0, 1000, ["a", "_step"]) == [{"a": -1.5, "_step": s}
                                                       for s in range(10, 90)]
    assert [r.data for r in reader.rows(10, 12)] == second[:2]


def test_a_reader_opens_the_file_only_when_its_groups_are_not_cached(tmp_path: Path) -> None:
    rows = [{"_step": s, "x": s / 7} for s in range(40)]
    path, _ = _write(tmp_path, rows)
    cache = ExportReadCache()
    first = ExportFile(path, cache=cache)
    assert first.records(0, 40, ["x"]) == [{"x": r["x"]} for r in rows]
    first.close()
    again = ExportFile(path, cache=cache)
    assert again.records(5, 9, ["x"]) == [{"x": r["x"]} for r in rows[5:9]]
    assert again._file is None  # footer and group both came from the caches
    # A reader with another cache (another Storage's) shares nothing: it opens the file.
    other = ExportFile(path, cache=ExportReadCache())
    assert other._file is not None
    assert other.records(5, 9, ["x"]) == [{"x": r["x"]} for r in rows[5:9]]
    other.close()
    path.unlink()
    with pytest.raises(FileNotFoundError):
        ExportFile(path, cache=cache)


def test_a_reopened_file_reuses_its_parsed_footer_unless_it_is_large(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracklet.storage.history.export import format as export_format

    given: list[Any] = []
    real = pq.ParquetFile

    def spy(*args: Any, **kwargs: Any) -> pq.ParquetFile:
        given.append(kwargs.get("metadata"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", spy)
    rows = [{"_step": s, "x": s / 7, "n": s} for s in range(30)]
    path, _ = _write(tmp_path, rows)
    cache = ExportReadCache()
    ExportFile(path, cache=cache).close()
    assert given == [None]  # the first open parses the footer
    again = ExportFile(path, cache=cache)
    assert again._metadata is not None and again._file is None
    assert again.file.read(columns=["_step", "x", "n"]).to_pylist() == rows
    assert given[1] is again._metadata  # handed back, not parsed again
    again.close()
    # A footer over the limit (a part with very many keys) is not kept: parsed per open.
    monkeypatch.setattr(export_format, "KEPT_FOOTER_BYTES", 16)
    other = ExportReadCache()
    ExportFile(path, cache=other).close()
    large = ExportFile(path, cache=other)
    assert large._metadata is None
    assert large.file.read(columns=["_step", "x", "n"]).to_pylist() == rows
    assert given[2:] == [None, None]
    large.close()
