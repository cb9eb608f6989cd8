"""The journal: records read back in order; a torn or corrupt tail is dropped, cut off
when the journal is reopened, and never replayed twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet.client import journal as jr


def _journal(path: Path, rows: int) -> None:
    j = jr.Journal.create(path, {"id": "r1", "project": "p", "config": {"a": 1}})
    j.append([jr.HISTORY + f'{{"_step":{i}}}'.encode() for i in range(rows)])
    j.append([jr.SUMMARY + b'{"best":1}', jr.CONFIG + b'{"b":2}'])
    j.close()


def test_replay_returns_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    _journal(path, 5)
    r = jr.replay(path)
    assert r.run["id"] == "r1" and r.history == [f'{{"_step":{i}}}' for i in range(5)]
    assert (r.summary, r.config, r.finished, r.records) == ({"best": 1}, {"a": 1, "b": 2},
                                                            False, 8)


@pytest.mark.parametrize("cut", [1, 5, 16, 17])
def test_a_torn_tail_is_dropped_and_cut_off_on_reopen(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "run.journal"
    _journal(path, 5)
    whole = path.read_bytes()
    torn_record = jr.encode(8, jr.HISTORY + b'{"_step":5}')
    path.write_bytes(whole + torn_record[:cut])
    assert jr.replay(path).records == 8
    j = jr.Journal.open_for_append(path)
    assert path.read_bytes() == whole
    j.append([jr.HISTORY + b'{"_step":6}', jr.FINISH + b'{"exit_code":0}'])
    j.close()
    r = jr.replay(path)
    assert r.history[-2:] == ['{"_step":4}', '{"_step":6}'] and r.exit_code == 0


def test_a_corrupt_record_ends_the_journal_there(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    _journal(path, 5)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the config record's payload: its checksum fails
    path.write_bytes(bytes(data))
    r = jr.replay(path)
    assert r.records == 7 and r.config == {"a": 1}


def test_a_record_out_of_sequence_is_not_replayed(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    _journal(path, 2)
    whole = path.read_bytes()
    path.write_bytes(whole + jr.encode(0, jr.HISTORY + b'{"_step":0}'))
    assert len(jr.replay(path).history) == 2


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    path.write_bytes(b"hello world, not a journal at all")
    with pytest.raises(ValueError, match="not a tracklet run journal"):
        jr.replay(path)
