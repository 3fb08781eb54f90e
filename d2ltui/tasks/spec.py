"""Task specs and their registry, importing no torch: the one list of task names, and what each task declares.

A task is one module holding its training step, evaluation, samples and `predict` (a `Task` subclass
in d2ltui/tasks/), and one `TaskSpec` that every other part reads: the headline metric (its
direction is d2ltui.metrics'), side metrics, training defaults, the dashboard panels it wants, its
sample kinds, and which generic knobs it honours. The built-in specs are in catalog.py; a package
may add tasks through the entry-point group `d2ltui.tasks` (each entry point names a module that
calls `register_task` when imported).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from d2ltui.errors import UserError

ENTRY_POINT_GROUP = "d2ltui.tasks"
# The dashboard's panels a task may ask for, in the order they are laid out.
PANELS = ("loss", "metric", "gan-losses", "return", "samples", "layers")


@dataclass(frozen=True)
class TaskSpec:
    """What a task is, for everything outside its module: names, metrics, defaults and views."""

    name: str
    step: str  # "module:Class" of the Task subclass, imported when a run needs it
    doc: str = ""
    metric: str | None = None  # the headline metric besides the loss (acc, ppl, bleu, ...)
    side_metrics: tuple[str, ...] = ()  # further quantities a run reports, drawn beside the loss or in its own panel
    defaults: dict[str, Any] = field(default_factory=dict)  # TOML-shaped: data, optim, train settings
    panels: tuple[str, ...] = ("loss", "metric", "samples")
    sample_kinds: tuple[str, ...] = ()
    finetune: bool = True  # honours train.init_from and train.freeze (else validation refuses them)
    folds: bool = False  # data.folds (K-fold cross-validation) applies
    mixed_precision: bool = True  # its steps run under autocast (train.precision applies; else they run at 32)
    ignores: tuple[str, ...] = ()  # config keys it never reads ("optim": a whole section): forms do not offer them

    def applies(self, key: str) -> bool:
        """Whether config key "section.name" means something to this task."""
        return key not in self.ignores and key.partition(".")[0] not in self.ignores

    def task_class(self) -> type:
        module, _, cls = self.step.partition(":")
        return getattr(importlib.import_module(module), cls)


REGISTRY: dict[str, TaskSpec] = {}
_loaded = False


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add a task; a second task under the same name is a programming error."""
    if spec.name in REGISTRY:
        raise ValueError(f"task {spec.name!r} is registered twice")
    if ":" not in spec.step:
        raise ValueError(f"task {spec.name!r}: step must be 'module:Class', got {spec.step!r}")
    unknown = set(spec.panels) - set(PANELS)
    if unknown:
        raise ValueError(f"task {spec.name!r}: unknown panels {sorted(unknown)}")
    REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    """The built-in catalog, then the tasks other installed packages declare."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("d2ltui.tasks.catalog")
    from d2ltui.zoo.registry import import_entry_points

    import_entry_points(ENTRY_POINT_GROUP)


def task_names() -> tuple[str, ...]:
    _load()
    return tuple(REGISTRY)


def task_spec(name: str) -> TaskSpec:
    _load()
    try:
        return REGISTRY[name]
    except KeyError:
        from d2ltui.zoo.registry import suggest

        raise UserError(f"unknown task {name!r}{suggest(name, list(REGISTRY))}") from None


def task_of(model: str, data: str, task: str = "") -> TaskSpec:
    """The spec of the task model `model` trains on dataset `data` (a run's config.toml names both; `task` is its
    model.task, which a model of the user's own names and which then decides without loading the model)."""
    if task:
        return task_spec(task)
    from d2ltui.data.registry import task_for
    from d2ltui.zoo.registry import get_spec

    return task_spec(task_for(get_spec(model), data))
