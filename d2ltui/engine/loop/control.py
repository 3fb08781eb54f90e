"""Intents from views to a running engine, as signals: SIGINT/SIGTERM/SIGHUP stop, SIGUSR1 pause, SIGUSR2 resume."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTENT_SIGNALS = {"stop": signal.SIGTERM, "pause": signal.SIGUSR1, "resume": signal.SIGUSR2, "kill": signal.SIGKILL}


class Control:
    """Flags the training loop polls between batches; installed signal handlers set them.

    A stop signal asks the loop to finish the current batch, checkpoint, record `stopped`
    and exit with `exit_code` (128 + the signal number, non-zero). A second SIGINT while
    stopping raises KeyboardInterrupt at once (the last checkpoint stays valid).
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        return 128 + self.signum if self.signum else 1

    @property
    def reason(self) -> str:
        """Why the run stopped, for status.json's message."""
        if self.signum is None:
            return "stopped"
        return f"stopped by {signal.Signals(self.signum).name}"

    def request_stop(self, signum: int | None = None) -> None:
        if signum is not None and self.signum is None:
            self.signum = signum
        self.paused.clear()
        self.stop.set()

    def _on_stop(self, signum: int, _frame: Any) -> None:
        if self.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.request_stop(signum)

    def install(self) -> "Control":
        """Install the handlers (main thread only); `restore` puts the previous ones back."""
        if threading.current_thread() is not threading.main_thread():
            return self
        handlers = {sig: self._on_stop for sig in STOP_SIGNALS}
        handlers[INTENT_SIGNALS["pause"]] = lambda *_: self.paused.set()
        handlers[INTENT_SIGNALS["resume"]] = lambda *_: self.paused.clear()
        for sig, handler in handlers.items():
            self._previous[sig] = signal.signal(sig, handler)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()



def send(pid: int, intent: str) -> None:
    """Send a view's intent ('stop', 'pause', 'resume', 'kill') to a running engine's pid."""
    os.kill(pid, INTENT_SIGNALS[intent])


def send_group(pgid: int, intent: str) -> None:
    """Send an intent to a whole process group (the engine and any torchrun workers); a gone group is fine."""
    try:
        os.killpg(pgid, INTENT_SIGNALS[intent])
    except ProcessLookupError:
        pass
