"""The model registry: names, chapters, tasks, default inputs and knobs, importing no torch.

Each architecture is a `ModelSpec` whose `builder` is a "module:function" path; the family
module (which imports torch) is only imported when a model is actually built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from d2ltui.config.overrides import parse_as
from d2ltui.errors import UserError
from d2ltui.format import suggest  # noqa: F401  (the zoo's name lookups use it; others import it from here)

INPUT_KINDS = ("features", "image", "tokens", "seq2seq", "latent", "states")
INIT_SCHEMES = ("default", "normal", "constant", "xavier", "kaiming", "custom")  # zoo/init.py applies them
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Knob:
    """One setting an architecture honours, with its type, default and allowed range."""

    name: str
    kind: type  # int, float, bool, str or tuple
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns a reason when the value is bad

    def parse(self, raw: Any) -> Any:
        """Turn a raw value (a CLI string or a TOML value) into a checked value of `kind`."""
        value = parse_as(raw, self.kind, f"knob {self.name}") if isinstance(raw, str) and self.kind is not str else raw
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.kind is tuple and isinstance(value, list):
            value = _to_tuple(value)
        if self.kind is tuple and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, self.kind) or (self.kind is not bool and isinstance(value, bool)):
            raise UserError(f"knob {self.name}: expected {self.kind.__name__}, got {raw!r}")
        if self.choices is not None and value not in self.choices:
            raise UserError(f"knob {self.name}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.min is not None and value < self.min:
            raise UserError(f"knob {self.name}: {value!r} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise UserError(f"knob {self.name}: {value!r} is above the maximum {self.max}")
        if self.check is not None and (reason := self.check(value)):
            raise UserError(f"knob {self.name}: {reason}")
        return value


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: what it is, what it eats, and which knobs it takes."""

    name: str
    chapter: str
    task: str
    input_kind: str
    default_input: tuple[Shape, ...]  # one shape per model input, batch first
    builder: str  # "d2ltui.zoo.family:function", called as function(**knobs)
    knobs: dict[str, Knob] = field(default_factory=dict)
    doc: str = ""
    also: tuple[str, ...] = ()  # other tasks it serves when the data is of that task (an MLP regresses)
    source: str = ""  # a model by reference (zoo/references.py): its file, module or "torchvision"; "" for the book's

    def defaults(self) -> dict[str, Any]:
        return {k.name: k.default for k in self.knobs.values()}

    def build_fn(self) -> Callable[..., Any]:
        if self.source:
            from d2ltui.zoo.references import builder

            return builder(self.builder)
        module, _, fn = self.builder.partition(":")
        return getattr(importlib.import_module(module), fn)


REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec; a second spec under the same name is a programming error."""
    if spec.name in REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    if spec.input_kind not in INPUT_KINDS:  # task names are checked against d2ltui.tasks by the tests
        raise ValueError(f"model {spec.name!r}: bad input kind {spec.input_kind!r}")
    REGISTRY[spec.name] = spec
    return spec


def chapter_order(chapter: str) -> int:
    """'9-10 Recurrent networks' -> 9: catalogs list chapters in the book's order."""
    head = chapter.split(" ", 1)[0].split("-", 1)[0]
    return int(head) if head.isdigit() else 10**6


def get_spec(name: str, task: str | None = None, copy: str | None = None) -> ModelSpec:
    """The spec of a book model, or of a reference (path/to/file.py:Name, package.module:Name,
    torchvision:NAME) for `task` (model.task; None lets the data pick it), its file read from `copy`
    when given (a run's copy of it)."""
    if ":" in name:
        from d2ltui.zoo.references import reference_spec

        return reference_spec(name, task, copy)
    _load_catalog()
    try:
        spec = REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}{suggest(name, list(REGISTRY))}") from None
    if task and task != spec.task and task not in spec.also:
        raise UserError(f"model.task={task}: {name} is the book's {spec.task} model (model.task is for your own)")
    return spec


def spec_of(cfg: Any) -> ModelSpec:
    """The spec a RunConfig trains: model.name for model.task, from the run's copy of the file when it keeps one.

    The one way from a config to its model's spec (validation, the job, the loop, predict, TensorBoard).
    """
    model = cfg.model
    return get_spec(model.name, model.task or None, model.copy or None)


def all_specs() -> list[ModelSpec]:
    _load_catalog()
    return list(REGISTRY.values())


def resolve_knobs(spec: ModelSpec, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec's defaults with `overrides` parsed and checked; an unknown knob is an error."""
    knobs = spec.defaults()
    for key, raw in (overrides or {}).items():
        if key not in spec.knobs:
            honoured = ", ".join(spec.knobs) or "none"
            raise UserError(
                f"model {spec.name} does not honour knob {key!r}{suggest(key, list(spec.knobs))}; "
                f"its knobs: {honoured}"
            )
        knobs[key] = spec.knobs[key].parse(raw)
    return knobs


ENTRY_POINT_GROUP = "d2ltui.models"  # modules of other packages that `register` their models when imported
_loaded = False


def _load_catalog() -> None:
    """The built-in catalog, then the models other installed packages declare."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("d2ltui.zoo.catalog")
    import_entry_points(ENTRY_POINT_GROUP)


def import_entry_points(group: str) -> None:
    """Import the module each installed package names in entry-point `group` (it registers what it adds)."""
    from importlib.metadata import entry_points

    for point in entry_points(group=group):
        importlib.import_module(point.value.partition(":")[0])
