"""Run state and the derived lifecycle rules."""

from __future__ import annotations

import enum


class RunState(str, enum.Enum):
    """The states the public API reports verbatim."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    PREEMPTING = "preempting"
    PREEMPTED = "preempted"

    @classmethod
    def from_exit_code(cls, exit_code: int | None) -> RunState:
        """finished for exit code 0, failed for anything else."""
        return cls.FINISHED if exit_code == 0 else cls.FAILED


TERMINAL_STATES = frozenset({RunState.FINISHED, RunState.FAILED})

RUN_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
