"""Run state and the derived lifecycle rules."""

from __future__ import annotations

import enum

from tracklet.errors import InvalidInput


class RunState(str, enum.Enum):
    """The states the public API reports verbatim."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    PREEMPTING = "preempting"
    PREEMPTED = "preempted"
    KILLED = "killed"
    PENDING = "pending"

    @classmethod
    def on_complete(cls, exit_code: int | None, stop_requested: bool = False) -> RunState:
        """The state a run ends in when the client reports it complete.

        Exit code 0 (or none reported) is finished; a non-zero code is failed, or killed when
        someone asked the run to stop (the SDK then interrupts the script, which exits non-zero).
        """
        if exit_code is None or exit_code == 0:
            return cls.FINISHED
        return cls.KILLED if stop_requested else cls.FAILED

    @classmethod
    def from_exit_code(cls, exit_code: int | None) -> RunState:
        """finished for exit code 0 (or none), failed for anything else."""
        return cls.on_complete(exit_code)

    @classmethod
    def after_silence(cls, state: str) -> RunState:
        """What a live run becomes when its heartbeats stop: preempted if it said it was
        being preempted, crashed otherwise."""
        return cls.PREEMPTED if state == cls.PREEMPTING.value else cls.CRASHED


TERMINAL_STATES = frozenset(
    {RunState.FINISHED, RunState.FAILED, RunState.KILLED, RunState.CRASHED, RunState.PREEMPTED}
)

LIVE_STATES = frozenset({RunState.RUNNING, RunState.PREEMPTING})

#: States a client may set through UpsertBucket (``Api.create_run(state=...)``).
CLIENT_SETTABLE_STATES = frozenset({RunState.RUNNING, RunState.PENDING})

#: Public-API state changes (``Run.update_state``): target state -> states it may come from.
#: Requeue (pending) a run that is running or ended badly; give up on (fail) a live or
#: queued one.
STATE_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CRASHED,
                                 RunState.PREEMPTED}),
    RunState.FAILED: frozenset({RunState.PENDING, RunState.RUNNING}),
}


def check_transition(current: str, target: str) -> RunState:
    """The target state when ``Run.update_state`` may move a run there from ``current``;
    InvalidInput (naming both states) otherwise."""
    allowed = ", ".join(sorted(s.value for s in STATE_TRANSITIONS))
    try:
        goal = RunState(target)
    except ValueError:
        raise InvalidInput(f"invalid state {target!r}: use one of {allowed}") from None
    sources = STATE_TRANSITIONS.get(goal)
    if sources is None:
        raise InvalidInput(f"invalid state {target!r}: use one of {allowed}")
    if current not in {s.value for s in sources}:
        raise InvalidInput(f"invalid state transition from {current!r} to {target!r}")
    return goal


RUN_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
