"""The columnar scan over live rows: exactly the rows and values a row-by-row parse of the
written lines gives (NaN/Infinity, integers orjson reads as floats, nested values, nulls,
lines that are not objects), and the planning helper that types its columns."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracklet.domain.records import RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.columns import ColumnScan, output_type, value_kind, value_kinds
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

_VALUES = (st.none() | st.booleans() | st.floats() | st.text(max_size=3)
           | st.integers() | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63),
                                               -(2**63) - 1])
           | st.lists(st.integers(), max_size=2)
           | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_VALUES, max_size=20))
def test_value_kinds_is_the_kinds_of_each_value(values: list[Any]) -> None:
    assert value_kinds(values) == {value_kind(v) for v in values if v is not None}


# -- live rows through the whole scan -------------------------------------------------------

SCAN_KEYS = ["loss", "acc", "big", "odd", "nully", "never"]


@pytest.fixture
def run_id(storage: Storage) -> int:
    with storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)
        project = accounts.ensure_project(conn, accounts.ensure_entity(conn, "alice"), "p")
        return run_repo.create_run(conn, project, "r", None, RunFields()).id


def _row(step: int) -> str:
    row: dict[str, Any] = {"_step": step, "other": [step, {"x": 2**70}]}
    if step % 4:
        row["loss"] = step / 8 if step % 11 else math.nan
    if step % 3 == 0:
        row["acc"] = step - 20
    if step % 5 == 0:
        row["big"] = 2**64 + step if step % 10 else step  # orjson: a float beyond 64 bits
    row["odd"] = [None, True, "s", {"a": [1, 2**65]}, [1.5], math.inf, 2][step % 7]
    if step % 6 == 1:
        row["nully"] = None
    return dumps_row(row)


def _expected(texts: dict[int, str], keys: list[str]) -> dict[str, list[Any]]:
    """Row by row with the reference parser: rows holding a non-null wanted value, each
    column typed from its values as :func:`output_type` does."""
    rows = []
    for step, text in sorted(texts.items()):
        data = loads_object(text) or {}
        if any(data.get(k) is not None for k in keys):
            rows.append((step, [data.get(k) for k in keys]))
    out: dict[str, list[Any]] = {"_step": [s for s, _ in rows]}
    for i, key in enumerate(keys):
        values = [v[i] for _, v in rows]
        kind, as_json = output_type({value_kind(v) for v in values if v is not None})
        if as_json:
            out[key] = [None if v is None else dumps_row(v) for v in values]
        elif pa.types.is_floating(kind):
            out[key] = [None if v is None else float(v) for v in values]
        else:
            out[key] = values
    return out


@pytest.mark.parametrize("keys", [["loss"], ["big"], ["odd", "_step"], ["nully"], ["never"],
                                  SCAN_KEYS, ["acc", "loss", "acc"]])
def test_live_scan_equals_row_by_row_parse(storage: Storage, run_id: int,
                                           keys: list[str]) -> None:
    texts = {s: _row(s) for s in range(0, 300)}
    odd = {300: "7", 301: '[{"_step": 301, "loss": 1}]', 302: '{"_step": 302, "loss": NaN}',
           303: '{"_step": 303, "loss": 1e400, "acc": 18446744073709551616}'}
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(0, tuple(texts.values())))
        write_history(conn, run_id, StreamChunk(300, tuple(odd.values())))
    texts.update({s: t for s, t in odd.items() if t[0] == "{"})
    wanted = [k for k in dict.fromkeys(keys) if k != "_step"]
    with open_history(storage, run_id) as view:
        scan = ColumnScan(view, keys)
        got = pa.concat_tables([scan.schema.empty_table(), *scan.tables()]).to_pydict()
    want = _expected(texts, wanted)
    assert list(got) == ["_step", *wanted]
    for key in got:
        assert len(got[key]) == len(want[key]), key
        for a, b in zip(got[key], want[key], strict=True):
            assert (type(a), a) == (type(b), b) or (a != a and b != b), (key, a, b)


@pytest.mark.parametrize("cells", [1, 1 << 22])
def test_exported_scan_is_the_same_however_row_groups_are_read(
        storage: Storage, run_id: int, cells: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracklet.storage.history import compaction
    from tracklet.storage.history.read import columns

    texts = {s: _row(s) for s in range(0, 40_000)}  # past one row group of 32,768
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(0, tuple(texts.values())))
        run_repo.set_run_columns(conn, run_id, state="finished")
    assert compaction.compact_now(storage, run_id)
    monkeypatch.setattr(columns, "CELLS_PER_READ", cells)
    keys = ["loss", "acc"]
    with open_history(storage, run_id) as view:
        assert view.exports and not view.has_live
        file = view.file(view.exports[0])
        assert len(file.groups) > 1  # several row groups, so the reads can split them
        scan = ColumnScan(view, keys, 100, 39_900)
        got = pa.concat_tables([scan.schema.empty_table(), *scan.tables()]).to_pydict()
    want = _expected({s: t for s, t in texts.items() if 100 <= s < 39_900}, keys)
    assert got["_step"] == want["_step"]
    for key in keys:
        assert len(got[key]) == len(want[key])
        for a, b in zip(got[key], want[key], strict=True):
            assert (type(a), a) == (type(b), b) or (a != a and b != b), (key, a, b)
