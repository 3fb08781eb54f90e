"""Plain events the trainer emits; subscribers (the run-directory recorder, the console printer) receive them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union


@dataclass
class Started:
    """The run is set up: what it trains, where, and how long it will take."""

    run_id: str
    model: str
    data: str
    task: str
    device: str
    num_params: int
    steps_per_epoch: int
    total_steps: int
    total_epochs: int
    start_step: int = 0  # > 0 when resumed
    world_size: int = 1
    headline: tuple[str, bool] = ("loss", False)  # the task's headline metric and whether higher is better


@dataclass
class Metrics:
    """One metrics line (a train window or a validation pass), as written to metrics.jsonl."""

    record: dict[str, Any]


@dataclass
class LayerStats:
    """Per-layer statistics of one recorded step (layerstats.py), one record per layer, as in layers.jsonl."""

    step: int
    records: list[dict[str, Any]]


@dataclass
class Samples:
    """What a view shows besides curves after an epoch: predictions, generated text, weights."""

    epoch: int
    samples: dict[str, Any]


@dataclass
class Status:
    """A state change or a progress note: running, paused, finished, stopped, failed, diverged."""

    state: str
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # step, epoch, total_steps, total_epochs, best, ...


@dataclass
class Checkpointed:
    """A checkpoint was written (error empty) or failed to be (error says why; the previous one is kept)."""

    step: int
    epoch: int
    path: str
    error: str = ""


@dataclass
class DataCard:
    """What the data fixes for answering new inputs later (engine.datacard), once at the start."""

    card: dict[str, Any]


@dataclass
class Note:
    """One line for the person running it: a setting that does not apply here, a profile written."""

    text: str


Event = Union[Started, Metrics, LayerStats, Samples, Status, Checkpointed, DataCard, Note]
Subscriber = Callable[[Event], None]


class EventBus:
    """Delivers every event to each subscriber in order."""

    def __init__(self, subscribers: list[Subscriber] | tuple[Subscriber, ...] = ()) -> None:
        self.subscribers = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def emit(self, event: Event) -> None:
        for subscriber in self.subscribers:
            subscriber(event)
