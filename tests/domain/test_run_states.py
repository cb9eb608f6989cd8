"""How runs end: finished, failed, killed, crashed, preempted."""

from __future__ import annotations

import pytest

from tracklet.domain.runs import RunState


@pytest.mark.parametrize(
    ("exit_code", "stop_requested", "state"),
    [
        (0, False, RunState.FINISHED),
        (None, False, RunState.FINISHED),
        (1, False, RunState.FAILED),
        (-9, False, RunState.FAILED),
        (255, True, RunState.KILLED),
        (0, True, RunState.FINISHED),
    ],
)
def test_on_complete(exit_code: int | None, stop_requested: bool, state: RunState) -> None:
    assert RunState.on_complete(exit_code, stop_requested) is state


def test_after_silence() -> None:
    assert RunState.after_silence("running") is RunState.CRASHED
    assert RunState.after_silence("preempting") is RunState.PREEMPTED
