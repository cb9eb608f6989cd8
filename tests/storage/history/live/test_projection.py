"""Decoding live lines for a few keys gives exactly what parsing each whole line with the
readers' reference path (orjson, then the lenient loader, then ``dict.get``) gives: same
values, same Python types (1.0 a float, -0.0 negative, integers orjson reads as floats read
as floats), NaN/Infinity as the SDK writes them, non-object lines holding no key."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live import chunks, projection
from tracklet.storage.history.live.projection import MISSING, ChunkProjection, project_lines

# Key strings: plain, the SDK's own, unicode, empty, and ones msgspec cannot name a field
# after (quotes, backslashes, control characters).
KEYS = ["loss", "_step", "acc", "m3", "", "é/ü 漢", "a.b", "f0", "a\"b", "back\\slash",
        "tab\tkey", "x" * 40, "_runtime", "emoji 🙂", *(_SEAMS := ["}{", "a},{b", "}\n{", "]["])]

# Keys as a Struct field can be named (most requests).
_WANTED = st.sampled_from([k for k in KEYS if k.isprintable() and not set(k) & set("\"\\")]) | (
    st.text(st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\"\\"),
            max_size=3))

# Numbers msgspec reads, some of which orjson reads otherwise (integers beyond 64 bits).
_NUMBERS = [str(2**63 - 1), str(-(2**63)), str(-(2**63) - 1), str(2**64 - 1), str(2**64),
            str(10**30), str(-(10**30)), "1" + "0" * 320, "-0", "-0.0", "5e-324", "2.4e-324",
            "1e-400", "1.0", "0.1", "1.7976931348623157e308", "2.2250738585072011e-308",
            "123456789012345678901234567890.5e-10", "1E2"]
# What only the lenient loader reads (or nothing does).
_POISON = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E309", "[NaN]",
           '{"x": Infinity}', '"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"']


def _string(draw: st.DrawFn, value: str) -> str:
    """``value`` as a JSON string, some characters written as escapes."""
    style = draw(st.sampled_from(["ascii", "utf8", "escaped"]))
    if style != "escaped":
        return json.dumps(value, ensure_ascii=style == "ascii")
    out = []
    for ch in value:
        if ch == "/" and draw(st.booleans()):
            out.append("\\/")
        elif ch in "\"\\" or ord(ch) < 0x20 or draw(st.booleans()):
            if ord(ch) > 0xFFFF:
                code = ord(ch) - 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@st.composite
def _number(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.sampled_from(_NUMBERS))
    if kind == 1:
        return str(draw(st.integers()))
    if kind == 2:
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
    if kind == 3:
        return draw(st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,2})?",
                                  fullmatch=True))
    return str(draw(st.integers(-(2**66), 2**66)))


@st.composite
def _scalar(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        return draw(_number())
    if kind == 2:
        # Text that looks like the seam between two stored lines (a chunk holds its lines'
        # texts back to back), as values and as key names.
        return _string(draw, draw(st.text(max_size=8) | st.sampled_from(["\x00", "\u2028"])
                                  | st.sampled_from(_SEAMS)))
    return draw(st.sampled_from(["true", "false", "null"]))


def _key(draw: st.DrawFn, wanted: list[str]) -> str:
    return _string(draw, draw(st.sampled_from(wanted) | st.sampled_from(KEYS)
                              | st.text(max_size=4)))


def _ws(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "", "", " ", "\n", " \t "]))


@st.composite
def _value(draw: st.DrawFn, wanted: list[str], depth: int = 0) -> str:
    kind = draw(st.integers(0, 5 if depth < 3 else 0))
    if kind <= 3:
        return draw(_scalar())
    if kind == 4:
        items = draw(st.lists(_value(wanted, depth + 1), max_size=4))
        return "[" + ",".join(f"{_ws(draw)}{v}{_ws(draw)}" for v in items) + "]"
    return draw(_object(wanted, depth + 1))


@st.composite
def _object(draw: st.DrawFn, wanted: list[str], depth: int = 0, poison: bool = True) -> str:
    values = draw(st.lists(_value(wanted, depth), max_size=6))
    if poison and depth == 0 and draw(st.integers(0, 3)) == 0:
        # One value only the lenient loader reads (or nothing does), anywhere in the line.
        values.insert(draw(st.integers(0, len(values))), draw(st.sampled_from(_POISON)))
    members = [f"{_ws(draw)}{_key(draw, wanted)}{_ws(draw)}:{_ws(draw)}{v}{_ws(draw)}"
               for v in values]
    return "{" + ",".join(members) + "}"


@st.composite
def _line(draw: st.DrawFn, wanted: list[str]) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 6:
        return _ws(draw) + draw(_object(wanted)) + _ws(draw)
    if kind == 7:
        return draw(_value(wanted))  # not an object: a number, string, list, ...
    if kind == 8:
        text = draw(_object(wanted))
        return text[:draw(st.integers(0, len(text)))]  # cut short
    return draw(st.sampled_from(["3", "[1]", '"s"', "null", "", " ", "{}", "{} {}", "{},{}",
                                 '{"loss":1}x', "[", '{"loss":NaN', "\ud800"]))


def _reference(text: str, key: str) -> Any:
    """What the readers do: the exact loader (integers of any size stay integers), else no
    object."""
    data = loads_object(text)
    return data.get(key, MISSING) if type(data) is dict else MISSING


def _same(a: Any, b: Any) -> bool:
    """Equal as values and as Python types: floats bit for bit, dicts in the same order."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a is b if a is MISSING or b is MISSING else bool(a == b)


def _non_finite(value: Any) -> bool:
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is dict:
        return any(_non_finite(v) for v in value.values())
    if type(value) is list:
        return any(_non_finite(v) for v in value)
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), keys=st.lists(_WANTED, min_size=1, max_size=5)
       | st.lists(st.sampled_from(KEYS) | st.text(max_size=3), min_size=1, max_size=3))
def test_projection_matches_the_whole_line_parse(data: st.DataObject, keys: list[str]) -> None:
    lines = data.draw(st.lists(_line(keys), max_size=12))
    got = project_lines(lines, keys)
    assert len(got.columns) == len(keys)
    assert got.slow == sorted(set(got.slow))
    for key, column in zip(keys, got.columns, strict=True):
        assert len(column) == len(lines)
        for i, (text, value) in enumerate(zip(lines, column, strict=True)):
            want = _reference(text, key)
            assert _same(value, want), (text, key, value, want)
            if _non_finite(value):
                assert i in got.slow


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers() | st.floats() | st.booleans() | st.none()
                       | st.text(max_size=5), min_size=1, max_size=30))
def test_sdk_lines_one_key(values: list[Any]) -> None:
    """Lines as the SDK writes them (NaN/Infinity tokens, big integers), one wanted key."""
    lines = [json.dumps({"_step": i, "v": v, "other": [v, {"v": v}]})
             for i, v in enumerate(values)]
    got = project_lines(lines, ["v", "_step"])
    for text, value, step in zip(lines, *got.columns, strict=True):
        assert _same(value, _reference(text, "v"))
        assert _same(step, _reference(text, "_step"))


def test_values_by_example() -> None:
    lines = ['{"a": 1.0, "b": 2, "a": -0.0}', '{"a": NaN}', '{"a": 1e400}',
             '{"a": 18446744073709551616}', '{"a": 18446744073709551615}',
             '{"a": [1, 18446744073709551616], "b": 1e400}', '[{"a": 1}]', '"a"', "3",
             '{"\\u0061": null}', '{"b": 1}']
    a, b = project_lines(lines, ["a", "b"]).columns
    assert [repr(v) for v in a] == [
        "-0.0", "nan", "inf", "18446744073709551616", "18446744073709551615",
        "[1, 18446744073709551616]", "UNSET", "UNSET", "UNSET", "None", "UNSET"]
    assert [type(v) for v in b[:2]] == [int, type(MISSING)]
    assert repr(b[5]) == "inf"


def test_keys_msgspec_cannot_name_and_repeated_keys() -> None:
    lines = ['{"a\\"b": 1, "c": 2}', '{"c": 3}', "[]"]
    got = project_lines(lines, ["a\"b", "c", "c"])
    assert got.columns == [[1, MISSING, MISSING], [2, 3, MISSING], [2, 3, MISSING]]
    assert got.slow == [0, 1, 2]


def test_decoders_are_cached_and_bounded() -> None:
    projection._decoder.cache_clear()
    for i in range(projection.CACHE_SIZE + 10):
        assert project_lines([json.dumps({f"k{i}": i})], [f"k{i}"]).columns == [[i]]
    info = projection._decoder.cache_info()
    assert info.currsize == projection.CACHE_SIZE
    project_lines(['{"k": 1}'], ["k"])
    project_lines(['{"k": 2}'], ["k"])
    assert projection._decoder.cache_info().hits == info.hits + 1


def test_no_keys_and_no_lines() -> None:
    assert project_lines(['{"a": 1}'], []).columns == []
    assert project_lines([], ["a"]).columns == [[]]


# -- whole chunks ------------------------------------------------------------------------

@st.composite
def _stored_line(draw: st.DrawFn, wanted: list[str], clean: bool) -> str:
    """A line as the live tier holds it: a JSON object (file_stream refuses anything else;
    an import serializes parsed rows), with whitespace around it sometimes; unless
    ``clean``, sometimes holding a token msgspec refuses (NaN...) and sometimes, which only
    a direct storage-layer write can store, a JSON value that is no object or blank text."""
    kind = draw(st.integers(0, 7 if clean else 9))
    if kind <= 7:
        return _ws(draw) + draw(_object(wanted, poison=not clean)) + _ws(draw)
    if kind == 8:
        return draw(_value(wanted))
    return draw(st.sampled_from(["", " ", "\n", "3", "[1]", '"s"', "null", "true"]))


def _chunk(lines: list[str]) -> chunks.Chunk:
    (chunk,) = chunks.build(0, list(range(len(lines))), lines)
    return chunk


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), keys=st.lists(_WANTED | st.sampled_from(_SEAMS), min_size=1, max_size=5)
       | st.lists(st.sampled_from(KEYS) | st.text(max_size=3), min_size=1, max_size=3))
def test_chunk_projection_matches_the_whole_line_parse(data: st.DataObject,
                                                       keys: list[str]) -> None:
    """A chunk's lines decoded together (all of them, or any ascending subset: a step range)
    give each line's values as the reference path reads that line alone."""
    # Clean chunks take the one-call path; the others mostly go line by line.
    lines = data.draw(st.lists(_stored_line(keys, data.draw(st.booleans())), min_size=1,
                               max_size=12))
    chunk = _chunk(lines)
    index = data.draw(st.none() | st.lists(st.integers(0, len(lines) - 1), unique=True)
                      .map(lambda xs: np.array(sorted(xs), dtype=np.int64)))
    project = ChunkProjection(keys)
    rows = project.rows(chunk, index)
    wanted = list(range(len(lines))) if index is None else index.tolist()
    assert len(rows) == len(wanted)
    columns = project.columns(rows)
    assert len(columns) == len(keys)
    for key, column in zip(keys, columns, strict=True):
        assert len(column) == len(wanted)
        for i, value in zip(wanted, column, strict=True):
            want = _reference(lines[i], key)
            assert _same(value, want), (lines[i], key, value, want)


def test_chunk_projection_of_seams_and_tokens_by_example() -> None:
    lines = ['{"a": "}{", "}{": 1, "b": 2}', '{"a": "x}{\\"}{y", "a},{b": 2.5}',
             '{"a": NaN, "b": 3}', ' {"a": 18446744073709551616}\n', '{"b": {"a": 1}}',
             '{"a": "\\ud800"}', '{"a": -0.0, "a": 7}', '{"\u00e9": 1, "a": [1, {"a": 2}]}']
    project = ChunkProjection(["a", "}{", "a},{b", "b", "\u00e9", "a"])
    rows = project.rows(_chunk(lines))
    a, seam, comma, b, e, a2 = project.columns(rows)
    assert a == a2
    assert [repr(v) for v in a] == [
        "'}{'", "'x}{\"}{y'", "nan", "18446744073709551616", "UNSET", "'\\ud800'", "7",
        "[1, {'a': 2}]"]
    assert seam[:2] == [1, MISSING] and comma[:2] == [MISSING, 2.5]
    assert b[:5] == [2, MISSING, 3, MISSING, {"a": 1}] and e[7] == 1
    # A step range: only lines 1 and 2 (and 4), the others' text is not decoded.
    rows = project.rows(_chunk(lines), np.array([1, 2, 4]))
    assert [repr(v) for v in project.columns(rows)[0]] == ["'x}{\"}{y'", "nan", "UNSET"]


def test_a_clean_chunk_is_decoded_by_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines msgspec takes never go line by line; one it refuses sends its chunk (and only
    that chunk) line by line."""
    calls: list[int] = []
    one_by_one = ChunkProjection._one_by_one

    def spy(self: ChunkProjection, texts: list[str]) -> list[Any]:
        calls.append(len(texts))
        return one_by_one(self, texts)

    monkeypatch.setattr(ChunkProjection, "_one_by_one", spy)
    project = ChunkProjection(["loss"])
    clean = _chunk([json.dumps({"_step": i, "loss": i / 3, "s": "}{"}) for i in range(50)])
    assert project.columns(project.rows(clean))[0] == [i / 3 for i in range(50)]
    assert project.columns(project.rows(clean, np.array([3, 9])))[0] == [1.0, 3.0]
    assert calls == []
    poisoned = _chunk(['{"loss": 1}', '{"loss": NaN}', '{"loss": 2}', "7"])
    values = project.columns(project.rows(poisoned))[0]
    assert values[0] == 1 and math.isnan(values[1]) and values[2:] == [2, MISSING]
    assert calls == [4]
