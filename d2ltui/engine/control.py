"""Intents from views to a running engine, as signals: SIGINT/SIGTERM stop, SIGUSR1 pause, SIGUSR2 resume."""

from __future__ import annotations

import signal
import threading


class Control:
    """Flags the training loop polls between batches; installed signal handlers set them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.paused = threading.Event()

    def install(self) -> "Control":
        """Install the handlers (main thread only). Stopping finishes the batch, checkpoints, exits."""
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGUSR1, lambda *_: self.paused.set())
        signal.signal(signal.SIGUSR2, lambda *_: self.paused.clear())
        return self
