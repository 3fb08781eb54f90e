"""The states of a run as status.json records them: one str Enum, so JSON keeps the same strings."""

from __future__ import annotations

from enum import Enum


class RunState(str, Enum):
    """A run's state; compares equal to its string ("running" == RunState.RUNNING)."""

    STARTING = "starting"  # a launcher made the folder; the engine has not written its status yet
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"  # on request (a signal, the TUI's stop): resumable
    FAILED = "failed"  # an error in the run (bad data, out of memory)
    DIVERGED = "diverged"  # the loss became NaN or infinite
    CRASHED = "crashed"  # the process died without recording its end (read, never written)

    def __str__(self) -> str:
        return self.value


LIVE_STATES = (RunState.STARTING, RunState.RUNNING, RunState.PAUSED)
END_STATES = (RunState.FINISHED, RunState.STOPPED, RunState.FAILED, RunState.DIVERGED, RunState.CRASHED)
