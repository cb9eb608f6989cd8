"""file_stream parsing and idempotent apply, against a real store on every metadata
backend."""

from __future__ import annotations

import json
import math
import threading
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracklet.config import Settings
from tracklet.domain.records import RunFields, User
from tracklet.errors import InvalidInput, NotFound, PayloadTooLarge
from tracklet.ingest.filestream import (
    HISTORY,
    StreamLimits,
    StreamRequest,
    apply_batch,
    apply_file_stream,
    parse_file_stream,
)
from tracklet.ingest.runs import UpsertRequest, upsert_run
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live import chunks
from tracklet.storage.history.live import write as live_write
from tracklet.storage.history.live.read import (
    console_lines,
    event_lines,
    history_counts,
    history_lines,
)
from tracklet.storage.history.live.write import step_value
from tracklet.storage.metadata import runs as run_repo


def _new_run(storage: Storage, user: User, name: str = "run00001") -> None:
    upsert_run(storage, user, UpsertRequest(None, name, "proj", None, RunFields()))


def _apply(storage: Storage, payload: dict[str, Any], name: str = "run00001") -> bool:
    update = parse_file_stream(payload)
    return apply_file_stream(storage, "alice", "proj", name, update).stopped


def _history(storage: Storage) -> list[str]:
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        return history_lines(conn, run.id)


def _lines(n: int, start: int = 0) -> list[str]:
    return [orjson.dumps({"_step": i, "v": i}).decode() for i in range(start, start + n)]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        ({"files": []}, "'files' must be an object"),
        ({"files": {"output.log": []}}, "must be an object"),
        ({"files": {"output.log": {"offset": True, "content": []}}}, "offset"),
        ({"files": {"output.log": {"offset": 2**60, "content": []}}}, "offset"),
        ({"files": {"output.log": {"offset": 0, "content": [1]}}}, "list of strings"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1]"]}}}, "JSON object"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": 1.5}']}}},
         "_step"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": 1e300}']}}},
         "_step"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": NaN}']}}},
         "_step"),
        ({"files": {"wandb-events.jsonl": {"offset": 0, "content": ["nope"]}}}, "JSON object"),
        ({"files": {"wandb-summary.json": {"offset": 0, "content": ["1"]}}}, "JSON object"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[" * 5000 + "]" * 5000]}}},
         "ingest_max_depth"),
        ({"uploaded": "a.txt"}, "uploaded"),
        ({"exitcode": True}, "exitcode"),
        ({"exitcode": 2**40}, "exitcode"),
        ({"complete": "yes"}, "complete"),
    ],
)
def test_parse_rejects_malformed_payloads(payload: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_file_stream(payload)


def test_parse_accepts_sdk_extended_json_and_ignores_unknown_files() -> None:
    update = parse_file_stream({
        "files": {
            "wandb-history.jsonl": {"offset": 3, "content": [
                '{"_step": 4, "a": NaN, "b": Infinity, "c": -Infinity, "d": 9223372036854775807}',
                '{"no_step": 1}', '{"_step": 5.0}']},
            "some-future-file.jsonl": {"offset": 0, "content": [1, 2]},
        },
        "unknown_key": {"x": 1},
    })
    assert update.history is not None and update.history.offset == 3
    assert update.history_steps == (4, None, 5)


def test_replayed_request_changes_nothing(storage: Storage, user: User) -> None:
    _new_run(storage, user)
    payload = {"files": {
        "wandb-history.jsonl": {"offset": 0, "content": _lines(5)},
        "wandb-events.jsonl": {"offset": 0, "content": ['{"cpu": 1}']},
        "output.log": {"offset": 0, "content": ["x", "y"]},
        "wandb-summary.json": {"offset": 0, "content": ['{"v": 4}']},
    }}
    _apply(storage, payload)
    with storage.db.read() as conn:
        first = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
    _apply(storage, payload)
    _apply(storage, payload)
    with storage.db.read() as conn:
        again = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert console_lines(conn, again.id) == [(0, "x"), (1, "y")]
        assert event_lines(conn, again.id) == ['{"cpu": 1}']
    assert _history(storage) == _lines(5)
    assert (again.history_line_count, again.events_line_count, again.log_line_count) == (5, 1, 2)
    assert (again.summary, again.last_step) == ('{"v": 4}', 4)
    assert again.heartbeat_at >= first.heartbeat_at


def test_offsets_overwrite_and_extend(storage: Storage, user: User) -> None:
    _new_run(storage, user)
    _apply(storage, {"files": {"output.log": {"offset": 0, "content": ["a", "b 10%"]}}})
    _apply(storage, {"files": {"output.log": {"offset": 1, "content": ["b 100%", "c"]}}})
    _apply(storage, {"files": {"wandb-history.jsonl": {"offset": 0, "content": _lines(3)}}})
    _apply(storage, {"files": {"wandb-history.jsonl": {"offset": 3,
                                                       "content": _lines(2, start=10)}}})
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert console_lines(conn, run.id) == [(0, "a"), (1, "b 100%"), (2, "c")]
    assert _history(storage) == _lines(3) + _lines(2, start=10)
    assert (run.log_line_count, run.history_line_count, run.last_step) == (3, 5, 11)


def test_console_lines_ending_in_a_newline_are_stored_without_it(storage: Storage,
                                                                 user: User) -> None:
    # The legacy sender of SDK releases before 0.28 (`wandb sync`) ends each line with one.
    _new_run(storage, user)
    _apply(storage, {"files": {"output.log": {"offset": 0, "content": [
        "2026-01-01T00:00:00 a\n", "ERROR 2026-01-01T00:00:00 b\n", "c", "d\n\n", ""]}}})
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert console_lines(conn, run.id) == [
            (0, "2026-01-01T00:00:00 a"), (1, "ERROR 2026-01-01T00:00:00 b"), (2, "c"),
            (3, "d\n"), (4, "")]


def test_concurrent_retries_of_one_run_store_each_line_once(
        storage_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers storing the same requests of one run at once (a retry reaching another
    server process while the first try is being stored): every line is stored exactly
    once, small chunks packed or not, on every backend."""
    monkeypatch.setattr(chunks, "CHUNK_LINES", 200)
    monkeypatch.setattr(live_write, "PACK_MIN_CHUNKS", 4)
    storage = Storage.open(storage_settings)
    user, _ = storage.create_user("alice")
    _new_run(storage, user)
    requests = [StreamRequest("alice", "proj", "run00001", parse_file_stream(
        {"files": {HISTORY: {"offset": off, "content": _lines(40, start=off)}}}))
        for off in range(0, 2000, 40)]
    failures: list[BaseException] = []

    def writer() -> None:
        ids: dict[tuple[str, str, str], int] = {}
        try:
            for req in requests:
                for outcome in apply_batch(storage, [req], ids):
                    assert not isinstance(outcome, BaseException), outcome
        except BaseException as exc:  # reported below, not swallowed
            failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert _history(storage) == _lines(2000)
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert history_counts(conn, [run.id]) == {run.id: 2000}
        assert run.history_line_count == 2000
    storage.close()


def test_lifecycle_states(storage: Storage, user: User) -> None:
    _new_run(storage, user)

    def state() -> tuple[str, int | None]:
        with storage.db.read() as conn:
            run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        return run.state, run.exit_code

    _apply(storage, {"preempting": True})
    assert state() == ("preempting", None)
    _apply(storage, {})
    assert state() == ("preempting", None), "a heartbeat does not undo preempting"
    _apply(storage, {"complete": True, "exitcode": 1})
    assert state() == ("failed", 1)
    _apply(storage, {})
    assert state() == ("running", None), "data after the end revives the run (resume)"
    _apply(storage, {"complete": True, "exitcode": 0})
    assert state() == ("finished", 0)
    _apply(storage, {})
    _apply(storage, {"complete": True})
    assert state() == ("finished", None)


def test_stop_request_is_reported_until_the_run_ends(storage: Storage, user: User) -> None:
    _new_run(storage, user)
    with storage.db.write() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert run_repo.request_stop(conn, run.id)
    assert _apply(storage, {}) is True
    assert _apply(storage, {"complete": True, "exitcode": 255}) is False
    with storage.db.write() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", "run00001")
        assert (run.state, run.stop_requested) == ("killed", False)
        assert not run_repo.request_stop(conn, run.id), "an ended run has nothing to stop"


def test_unknown_run_is_not_found(storage: Storage, user: User) -> None:
    with pytest.raises(NotFound):
        _apply(storage, {}, name="missing1")


# One store for all examples, each example on a run of its own: a fresh database per
# example would cost a PostgreSQL migration each.
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunks=st.lists(
        st.tuples(st.integers(0, 30), st.lists(st.integers(-5, 5), min_size=1, max_size=8)),
        min_size=1, max_size=12,
    )
)
def test_any_sequence_of_writes_equals_line_array_semantics(
    storage: Storage, user: User, chunks: list[tuple[int, list[int]]]
) -> None:
    """Whatever offsets arrive, in whatever order, each replayed, the stored console equals
    ``line[offset + i] = content[i]`` applied to a plain list."""
    name = uuid.uuid4().hex[:8]
    _new_run(storage, user, name)
    model: dict[int, str] = {}
    for offset, values in chunks:
        lines = [f"v{v}" for v in values]
        for _ in range(2):
            _apply(storage, {"files": {"output.log": {"offset": offset, "content": lines}}},
                   name=name)
        for i, line in enumerate(lines):
            model[offset + i] = line
    with storage.db.read() as conn:
        run = run_repo.get_run_by_path(conn, "alice", "proj", name)
        assert console_lines(conn, run.id) == sorted(model.items())
        assert run.log_line_count == max(model) + 1


def test_non_finite_steps_are_not_steps() -> None:
    assert step_value({"_step": math.nan}) is None
    assert step_value({"_step": 2**64}) is None
    assert step_value({"_step": True}) is None
    assert step_value({"_step": 7.0}) == 7


def _checked_steps(name: str, lines: list[str]) -> tuple[int | None, ...] | str:
    """The plain checked parse of content lines, line by line with the lenient parser: the
    steps, or the message of the first line it rejects."""
    steps: list[int | None] = []
    for i, line in enumerate(lines):
        try:
            row = loads(line)
        except (ValueError, RecursionError):
            row = None
        if not isinstance(row, dict):
            return f"files.{name}.content[{i}] is not a JSON object"
        step = step_value(row)
        if name == HISTORY and step is None and "_step" in row:
            return f"files.{name}.content[{i}] has a _step that is not an integer"
        steps.append(step)
    return tuple(steps)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=8,
)
_STEPS = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.integers(-(2**70), 2**70),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 0, -0.0, 5.0, 2.0**63]),
    _VALUES,
)


@st.composite
def _content_line(draw: st.DrawFn) -> str:
    row = draw(st.dictionaries(st.text(max_size=6), _VALUES, max_size=4))
    if draw(st.booleans()):
        row["_step"] = draw(_STEPS)
    # json.dumps writes NaN/Infinity and exact big ints the way the SDK's lines carry them.
    text = json.dumps(row)
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return json.dumps(draw(_VALUES))
    if kind == 1:
        return draw(st.text(alphabet='{}[]":,0123456789.-eE _steptruefalsnNaIfiy\\u\t\x00',
                            max_size=20))
    if kind == 2:
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=2)) + text[cut + draw(st.integers(0, 2)):]
    return text


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_content_line(), max_size=6),
       name=st.sampled_from([HISTORY, "wandb-events.jsonl", "wandb-summary.json"]))
def test_fast_line_parse_equals_the_checked_parse(lines: list[str], name: str) -> None:
    """Whatever the lines (NaN, float, bool, null, huge or missing steps, non-objects, broken
    text), parsing accepts and rejects exactly as the plain checked parse, same message."""
    expected = _checked_steps(name, lines)
    try:
        update = parse_file_stream({"files": {name: {"offset": 0, "content": lines}}})
    except InvalidInput as exc:
        assert str(exc) == expected
        return
    assert not isinstance(expected, str), expected
    if name == HISTORY:
        assert update.history_steps == expected


@pytest.mark.parametrize("line", [
    '{"_step": 1, "_step": "x"}', '{"_step": "x", "_step": 1}', '{"_step": 1, "_step": 2}',
    '{"\\u005fstep": 7}', '{"_step": 3, "a": "\\ud800"}', '{"_step": 3, "a": "\ud800"}',
    '{"_step": 3, "a": 1e999, "b": 100000000000000000000000}', '{"_step": null}',
    '{"_step": 3, "a": "\x01"}', ' {"_step": 3}\n', '\ufeff{"_step": 3}', '{"_step": 3}{}',
    '{"_step": 3, "a": ' + "[" * 990 + "]" * 990 + "}",
    '{"_step": 3, "a": ' + "[" * 1100 + "]" * 1100 + "}",
])
def test_fast_line_parse_edge_cases_match_the_checked_parse(line: str) -> None:
    lines = [line, '{"_step": 9}']
    expected = _checked_steps(HISTORY, lines)
    try:
        # Limits past these lines' nesting: the parsers' own handling is compared here.
        got: tuple[int | None, ...] | str = parse_file_stream(
            {"files": {HISTORY: {"offset": 0, "content": lines}}},
            StreamLimits(max_depth=10_000)).history_steps
    except InvalidInput as exc:
        got = str(exc)
    assert got == expected


def _history_payload(*lines: str) -> dict[str, Any]:
    return {"files": {"wandb-history.jsonl": {"offset": 0, "content": list(lines)}}}


def _nested(depth: int) -> str:
    """A line of ``depth`` containers (its own object included), alternating kinds."""
    text = "1"
    for level in range(depth - 1):
        text = f"[{text}]" if level % 2 else f'{{"k": {text}}}'
    return '{"_step": 0, "v": ' + text + "}"


def test_stored_data_limits_are_enforced_by_name() -> None:
    limits = StreamLimits()
    parse_file_stream(_history_payload(_nested(limits.max_depth)))
    with pytest.raises(InvalidInput, match=r"nested 65 levels deep, over the limit of 64 "
                                           r"\(ingest_max_depth\)"):
        parse_file_stream(_history_payload('{"_step": 0}', _nested(65)))
    wide = "{" + ", ".join(f'"k{i}": {i}' for i in range(limits.max_keys)) + "}"
    parse_file_stream(_history_payload(wide))
    with pytest.raises(InvalidInput, match=r"10001 keys, over the limit of 10000 "
                                           r"\(ingest_max_keys\)"):
        parse_file_stream(_history_payload(wide[:-1] + ', "one more": {}}'))
    big = '{"s": "' + "x" * limits.max_line_bytes + '"}'
    with pytest.raises(PayloadTooLarge, match="ingest_max_line_bytes"):
        parse_file_stream({"files": {"output.log": {"offset": 0, "content": [big]}}})
    for name in ("wandb-events.jsonl", "wandb-summary.json"):
        with pytest.raises(InvalidInput, match="ingest_max_depth"):
            parse_file_stream({"files": {name: {"offset": 0, "content": [_nested(80)]}}})


def test_brackets_colons_and_escapes_inside_strings_do_not_count() -> None:
    limits = StreamLimits(max_depth=3, max_keys=4)
    text = '{"a": "[[[[{{{{::::", "b\\"[{:": {"c": "\\\\"}, "d": ["]]]]"]}'
    update = parse_file_stream(_history_payload(text), limits)
    assert update.history is not None and update.history.lines == (text,)
    with pytest.raises(InvalidInput, match="ingest_max_depth"):
        parse_file_stream(_history_payload('{"a": [[[1]]]}'), limits)
    with pytest.raises(InvalidInput, match="ingest_max_keys"):
        parse_file_stream(_history_payload('{"a": 1, "b": 2, "c": {"d": 3, "e": 4}}'), limits)
    output = {"files": {"output.log": {"offset": 0, "content": ["[[[[[[ a: b: c: d:"]}}}
    parse_file_stream(output, limits)  # console text has no shape
