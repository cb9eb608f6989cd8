"""How runs end (finished, failed, killed, crashed, preempted) and which state changes the
public API may make."""

from __future__ import annotations

import pytest

from tracklet.domain.runs import RunState, check_transition
from tracklet.errors import InvalidInput


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


@pytest.mark.parametrize(("current", "target"), [
    ("running", "pending"), ("failed", "pending"), ("crashed", "pending"),
    ("preempted", "pending"), ("pending", "failed"), ("running", "failed")])
def test_update_state_allowed(current: str, target: str) -> None:
    assert check_transition(current, target) is RunState(target)


@pytest.mark.parametrize(("current", "target"), [
    ("finished", "pending"), ("killed", "pending"), ("failed", "failed"),
    ("finished", "failed"), ("running", "finished"), ("running", "bogus")])
def test_update_state_refused(current: str, target: str) -> None:
    with pytest.raises(InvalidInput):
        check_transition(current, target)
