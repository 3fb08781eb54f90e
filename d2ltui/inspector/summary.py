"""Per-layer summary of a registered model: shapes, params, FLOPs, receptive fields, from one pass.

`summarize(name_or_spec, overrides, shapes, depth)` builds the model, hooks every module, and
runs one forward pass in eval mode under a `FlopMode` (torch's FLOP formulas per module,
attention matmuls included; see d2ltui.inspector.flops) and a `ReceptiveFieldMode` (see
d2ltui.inspector.receptive). The pass runs on real CPU tensors when it is surely cheap
(`pass_device`: a small model on a small input, e.g. LeNet), else under `torch.device("meta")`
(no memory, no compute; but torch's meta kernels import seconds of machinery on first use).
Both give the same rows. Lazy layers materialise during that pass. If a
layer raises, the rows that ran survive and `Summary.error` names the layer, its input,
torch's reason and the smallest input of the same form that flows (`smallest_working_input`).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from math import prod
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from d2ltui.errors import UserError
from d2ltui.inspector.flops import FlopMode
from d2ltui.inspector.anchors import FeatureMapRow, feature_map_rows
from d2ltui.inspector.receptive import ReceptiveFieldMode
from d2ltui.format import Shape, format_shape, format_shapes
from d2ltui.zoo.build import example_inputs
from d2ltui.zoo.references import where as where_in
from d2ltui.zoo.registry import ModelSpec, get_spec, resolve_knobs

META = torch.device("meta")
CPU = torch.device("cpu")
# A real CPU pass only when surely cheap: at most this many parameters, parameters x input positions
# (a bound on multiply-adds: each weight meets each position at most once) and input elements.
CPU_PASS_PARAMS, CPU_PASS_WORK, CPU_PASS_INPUT = 5_000_000, 250_000_000, 1 << 20


@dataclass
class LayerRow:
    """One module of the model: where it sits, what it outputs, what it holds and costs."""

    name: str  # dotted path below the model's top block, e.g. "b2.0.conv1"
    type: str
    depth: int  # 1 for the top-level blocks, 2 for their children, ...
    output_shape: Shape | None  # first output (recurrent layers return tuples); None if it never finished
    params: int = 0
    trainable_params: int = 0
    flops: int = 0
    activation_bytes: int = 0  # bytes of all its output tensors, summed over calls
    receptive_field: tuple[int, ...] | None = None  # per spatial dimension, None outside conv/pool stacks
    calls: int = 0
    attention_shape: Shape | None = None  # attention layers: the weights' (batch, heads, queries, keys)


@dataclass
class Failure:
    """Why the forward pass stopped: the layer, the input it got, torch's reason, an input that works."""

    layer: str
    layer_type: str
    input_shape: Shape | None
    reason: str
    suggestion: tuple[Shape, ...] | None = None
    searched: bool = False  # whether a working input was looked for
    location: str = ""  # "file.py:12": the line of a model file (your own model's) where it raised

    def message(self) -> str:
        got = f" got input {format_shape(self.input_shape)} and" if self.input_shape else ""
        at = f" at {self.location}" if self.location else ""
        text = f"layer {self.layer} ({self.layer_type}){got} failed{at}: {self.reason}"
        if self.suggestion:
            text += f"; the smallest input of this form that works is {format_shapes(self.suggestion)}"
        elif self.searched:
            text += "; no input of this form flows with these knobs"
        return text


@dataclass
class Summary:
    model: str
    input: tuple[Shape, ...]
    knobs: dict[str, Any]
    layers: list[LayerRow]
    total_params: int = 0
    trainable_params: int = 0
    flops: int = 0
    param_bytes: int = 0
    activation_bytes: int = 0
    failure: Failure | None = None
    depth: int = 1
    feature_maps: list[FeatureMapRow] = field(default_factory=list)  # a detector's scales, else empty

    @property
    def anchors(self) -> int | None:
        """A detector's anchors per image over all its scales (None for other models)."""
        return sum(r.anchors for r in self.feature_maps) if self.feature_maps else None

    @property
    def error(self) -> str | None:
        return self.failure.message() if self.failure else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `d2l-tui inspect --json`."""
        layers = []
        for row in self.layers:
            item = asdict(row)
            item["output_shape"] = list(row.output_shape) if row.output_shape is not None else None
            item["attention_shape"] = list(row.attention_shape) if row.attention_shape is not None else None
            rf = row.receptive_field
            item["receptive_field"] = None if rf is None else (rf[0] if len(set(rf)) == 1 else list(rf))
            layers.append(item)
        return {
            "model": self.model, "input": [list(s) for s in self.input], "knobs": _jsonable(self.knobs),
            "depth": self.depth, "layers": layers, "total_params": self.total_params,
            "trainable_params": self.trainable_params, "flops": self.flops, "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes, "error": self.error,
            "feature_maps": [{**asdict(r), "shape": list(r.shape) if r.shape else None} for r in self.feature_maps],
            "anchors": self.anchors,
            "failure": None if self.failure is None else {
                **asdict(self.failure),
                "input_shape": list(self.failure.input_shape) if self.failure.input_shape else None,
                "suggestion": [list(s) for s in self.failure.suggestion] if self.failure.suggestion else None},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def check_shapes(spec: ModelSpec, shapes: tuple[Shape, ...]) -> None:
    """The input has as many tensors as the model takes, each with the rank of the default input
    (your own model's: as many as its forward takes)."""
    if spec.source:  # your own model: its forward's signature says what it takes
        from d2ltui.zoo.references import check_inputs

        return check_inputs(spec, len(shapes))
    want = spec.default_input
    example = format_shapes(want)
    if len(shapes) != len(want):
        raise UserError(f"--input: {spec.name} takes {len(want)} input(s), e.g. {example}; got {len(shapes)}")
    for i, (got, ref) in enumerate(zip(shapes, want)):
        if len(got) != len(ref):
            which = f"input {i + 1}" if len(want) > 1 else "the input"
            raise UserError(f"--input: {spec.name} expects {which} with {len(ref)} dimensions like "
                            f"{format_shape(ref)}; got {format_shape(got)}")


def resolve_for_input(spec: ModelSpec, overrides: dict[str, Any] | None,
                      shapes: tuple[Shape, ...]) -> dict[str, Any]:
    """Checked knobs; `in_channels`, when the user left it unset, follows the input's channel dimension."""
    knobs = resolve_knobs(spec, overrides)
    if "in_channels" in spec.knobs and "in_channels" not in (overrides or {}) and spec.input_kind == "image":
        channels = shapes[0][1]
        try:
            knobs["in_channels"] = spec.knobs["in_channels"].parse(channels)
        except UserError as err:
            raise UserError(f"--input {format_shapes(shapes)} has {channels} channels: {err}") from None
    return knobs


def construct(spec: ModelSpec, knobs: dict[str, Any], device: torch.device = META) -> nn.Module:
    """The model on `device` (meta: no memory), lazy layers still lazy; a builder's refusal becomes a UserError."""
    kwargs = {k: v for k, v in knobs.items() if k != "init"}
    try:
        with device:
            model = spec.build_fn()(**kwargs)
    except (ValueError, AssertionError, TypeError, RuntimeError) as err:
        raise UserError(f"model {spec.name} cannot be built with these knobs: {_one_line(err)}") from None
    return model.eval()


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split()).rstrip(".") or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pass_device(spec: ModelSpec, model: nn.Module, shapes: tuple[Shape, ...]) -> torch.device:
    """CPU when a real forward of `model` (built on meta) at `shapes` is surely cheap, else meta."""
    if any(isinstance(m, nn.RNNBase) for m in model.modules()):
        return META  # on CPU a recurrent layer runs as one fused kernel that no FLOP formula covers
    params = _param_counts(model)[0]  # lazy layers are not known yet: the input bound covers them
    if spec.input_kind == "image":
        positions = sum(s[0] * prod(s[2:]) for s in shapes)
    elif spec.input_kind == "features":
        positions = sum(prod(s[:-1]) for s in shapes)
    else:
        positions = sum(prod(s) for s in shapes)  # token ids: one position each
    small = (params <= CPU_PASS_PARAMS and params * positions <= CPU_PASS_WORK
             and sum(prod(s) for s in shapes) <= CPU_PASS_INPUT)
    return CPU if small else META


def model_and_inputs(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...],
                     device: str | None) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The model in eval mode and example inputs, on `device` (None: `pass_device` picks)."""
    model = construct(spec, knobs)
    chosen = torch.device(device) if device else pass_device(spec, model, shapes)
    if chosen != META:
        model = construct(spec, knobs, chosen)
    return model, example_inputs(spec, knobs, shapes, chosen)


def display_root(model: nn.Module) -> tuple[str, nn.Module]:
    """Skip plain wrappers (one child holding everything, as the book's `self.net`): rows start below."""
    prefix, root = "", model
    while True:
        children = list(root.named_children())
        own = any(True for _ in root.parameters(recurse=False))
        if len(children) != 1 or own or not any(True for _ in children[0][1].children()):
            return prefix, root
        prefix, root = prefix + children[0][0] + ".", children[0][1]


def _param_counts(module: nn.Module) -> tuple[int, int]:
    total = trainable = 0
    for p in module.parameters():
        if isinstance(p, nn.UninitializedParameter):
            continue
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in a module's output: nested tuples, lists, dicts and dataclasses, in order."""
    out = []
    for leaf in tree_flatten(value)[0]:
        if isinstance(leaf, torch.Tensor):
            out.append(leaf)
        elif is_dataclass(leaf) and not isinstance(leaf, type):
            out += _tensors([getattr(leaf, f.name) for f in fields(leaf)])
    return out


def summarize(spec: ModelSpec | str, overrides: dict[str, Any] | None = None,
              shapes: tuple[Shape, ...] | None = None, depth: int = 1, suggest: bool = True,
              device: str | None = None, attention_rows: bool = False) -> Summary:
    """Rows for every module down to `depth` (0: the whole model as one row) and the totals;
    with `attention_rows`, also every attention layer below `depth` (the outer one of a nested pair).

    `device` ("cpu" or "meta") forces where the pass runs; by default `pass_device` picks.
    Torch's global random state is left as it was.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    shapes = tuple(tuple(s) for s in shapes) if shapes else spec.default_input
    check_shapes(spec, shapes)
    knobs = resolve_for_input(spec, overrides, shapes)
    with _quiet_pass():
        model, inputs = model_and_inputs(spec, knobs, shapes, device)
        summary, failure = _run(spec, knobs, shapes, depth, model, inputs, attention_rows)
    if failure is not None and suggest:
        failure.suggestion = smallest_working_input(spec, knobs, shapes)
        failure.searched = True
    return summary


@contextmanager
def _quiet_pass():
    """Leave torch's global random state as it was, and run on one CPU thread: waking the
    thread pool costs more than a pass small enough for the CPU (see `pass_device`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)


def _run(spec, knobs, shapes, depth, model, inputs, attention_rows: bool = False) -> tuple[Summary, Failure | None]:
    """One hooked, counted forward pass and the summary of what ran."""
    trace = _Trace(model)
    rf = ReceptiveFieldMode()
    for x in inputs:
        if x.is_floating_point():
            rf.mark(x)
    failure = None
    flops = FlopMode(trace.running)
    try:
        with torch.no_grad(), flops, (rf if len(rf.fields) else nullcontext()):
            model(*inputs)
    except Exception as err:  # any layer's refusal: keep the rows that ran
        failure = trace.failure(err)
        if spec.source.endswith(".py"):  # your own model: the line of its file that raised
            failure.location = where_in(err, spec.source)
    finally:
        trace.remove()
    return trace.summary(spec, knobs, shapes, depth, flops, rf, failure, attention_rows), failure


class _Trace:
    """Forward hooks on every module: the order they start, their inputs, outputs and calls."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.names = {m: n for n, m in model.named_modules()}
        self.order: list[nn.Module] = []
        self.stack: list[tuple[nn.Module, Shape | None]] = []  # modules running now, with their input
        self.inputs: dict[nn.Module, Shape | None] = {}
        self.outputs: dict[nn.Module, list[torch.Tensor]] = {}
        self.calls: dict[nn.Module, int] = {}
        self.act_bytes: dict[nn.Module, int] = {}
        self.attention: dict[nn.Module, Shape] = {}
        self.handles = []
        for module in self.names:
            self.handles.append(module.register_forward_pre_hook(self._pre))
            self.handles.append(module.register_forward_hook(self._post, always_call=False))

    def _pre(self, module: nn.Module, args: tuple) -> None:
        first = _tensors(args)
        shape = tuple(first[0].shape) if first else None
        self.stack.append((module, shape))
        if module not in self.inputs:
            self.order.append(module)
            self.inputs[module] = shape

    def _post(self, module: nn.Module, args: tuple, output: Any) -> None:
        self.stack.pop()
        outs = _tensors(output)
        self.outputs.setdefault(module, outs)
        self.calls[module] = self.calls.get(module, 0) + 1
        self.act_bytes[module] = self.act_bytes.get(module, 0) + sum(t.numel() * t.element_size() for t in outs)
        self._attention_shape(module)

    def _attention_shape(self, module: nn.Module) -> None:
        """(batch, heads, queries, keys) of an attention layer's weights; a multi-head layer (whose hook
        runs after its inner attention's) also fixes its inner layer's shape, whose batch counts the heads."""
        inner = getattr(module, "attention", None)
        heads = getattr(module, "num_heads", None)
        if heads and isinstance(getattr(inner, "attention_weights", None), torch.Tensor):
            w = inner.attention_weights
            shape = (w.shape[0] // heads, heads, w.shape[-2], w.shape[-1])
            self.attention[module] = self.attention[inner] = shape
        elif isinstance(getattr(module, "attention_weights", None), torch.Tensor):
            w = module.attention_weights
            self.attention[module] = (w.shape[0], 1, w.shape[-2] if w.dim() > 2 else 1, w.shape[-1])

    def running(self) -> list[nn.Module]:
        """The modules whose forward is running now (outermost first)."""
        return [module for module, _ in self.stack]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def failure(self, err: Exception) -> Failure:
        module, shape = self.stack[-1] if self.stack else (self.model, None)
        prefix, _ = display_root(self.model)
        name = self.names.get(module, "")
        name = (name[len(prefix):] if name.startswith(prefix) and name != prefix[:-1] else name) or "(model)"
        return Failure(name, type(module).__name__, shape, _one_line(err))

    def _row_order(self, failed: bool) -> list[nn.Module]:
        """Modules in the order they started. A container whose forward never ran (a block looping
        over its `nn.Sequential` by hand) goes just before its first descendant that ran; an unused
        module holding parameters goes last (not after a failure, where the pass stopped early)."""
        pos = {m: i for i, m in enumerate(self.order)}
        keys = {}
        for index, module in enumerate(self.names):
            if module in pos:
                keys[module] = (pos[module], 1, index)
                continue
            ran = [pos[d] for d in module.modules() if d in pos]
            if ran:
                keys[module] = (min(ran), 0, index)
            elif not failed and _param_counts(module)[0]:
                keys[module] = (len(pos), 1, index)
        return sorted(keys, key=keys.get)

    def _flops(self, module: nn.Module, flops: FlopMode) -> int:
        """The FLOPs counted while the module ran; for a container that never ran, its children's."""
        if module in self.inputs:
            return int(flops.per_module.get(module, 0))
        return sum(self._flops(child, flops) for child in module.children())

    def summary(self, spec, knobs, shapes, depth, flops: FlopMode, rf: ReceptiveFieldMode,
                failure: Failure | None, attention_rows: bool = False) -> Summary:
        prefix, root = display_root(self.model)
        rows: list[LayerRow] = []
        attending = {self.names[m] for m in self.attention} if attention_rows else set()
        outer = {n for n in attending if not any(n.startswith(a + ".") for a in attending)}
        for module in self._row_order(failure is not None):
            name = self.names[module]
            if module is self.model:
                leaf = not any(True for _ in module.children())  # a tabular agent: the model is its one layer
                if depth != 0 and not leaf:
                    continue
                level, shown = (1 if depth and leaf else 0), spec.name
            elif module is root or not name.startswith(prefix):
                continue
            else:
                shown = name[len(prefix):]
                level = shown.count(".") + 1
                if level > depth and name not in outer:
                    continue
            outs = self.outputs.get(module)
            total, trainable = _param_counts(module)
            rows.append(LayerRow(
                shown, type(module).__name__, level, tuple(outs[0].shape) if outs else None, total, trainable,
                self._flops(module, flops), self.act_bytes.get(module, 0),
                rf.field(outs[0]) if outs else None, self.calls.get(module, 0),
                self.attention.get(module)))
        total, trainable = _param_counts(self.model)
        leaves = [m for m in self.outputs if not any(True for _ in m.children())]
        return Summary(
            spec.name, shapes, knobs, rows, total, trainable, int(flops.total),
            sum(p.numel() * p.element_size() for p in self.model.parameters()
                if not isinstance(p, nn.UninitializedParameter)),
            sum(self.act_bytes[m] for m in leaves), failure, depth, feature_map_rows(self.model, self.outputs))


def flows(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...]) -> bool:
    """Whether a fresh model takes `shapes` end to end (on `pass_device`'s choice, no hooks, no counting)."""
    try:
        with _quiet_pass(), torch.no_grad():
            model, inputs = model_and_inputs(spec, knobs, shapes, None)
            model(*inputs)
    except Exception:  # noqa: BLE001 - any refusal means "does not flow"
        return False
    return True


def _form(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...]):
    """(make(size) -> shapes, the size the user asked, the default size, the largest size to try)."""
    if spec.input_kind == "image":
        batch, channels = shapes[0][0], knobs.get("in_channels", shapes[0][1])
        rest = shapes[0][2:]
        return (lambda s: ((batch, channels) + (s,) * len(rest),) + shapes[1:], max(rest),
                max(spec.default_input[0][2:]), 4096)
    if spec.input_kind in ("tokens", "seq2seq"):
        return (lambda s: tuple((sh[0], s) + sh[2:] for sh in shapes), max(sh[1] for sh in shapes),
                max(sh[1] for sh in spec.default_input), 1 << 16)
    width = knobs.get("in_features", spec.default_input[0][-1])
    return (lambda s: (shapes[0][:-1] + (s,),), width, width, width)


def smallest_working_input(spec: ModelSpec, knobs: dict[str, Any],
                           shapes: tuple[Shape, ...]) -> tuple[Shape, ...] | None:
    """The smallest input of the same form (square images, equal sequence lengths) that flows.

    Tries the default size and doublings of the asked size until one flows, then bisects
    between the largest size seen failing and it. Every answer has itself flowed.
    """
    make, asked, default, limit = _form(spec, knobs, shapes)
    candidates = sorted({default, *(asked << k for k in range(13) if asked << k <= limit)})
    lo, hi = 0, None
    for size in candidates:
        if flows(spec, knobs, make(size)):
            hi = size
            break
        lo = size
    if hi is None:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if flows(spec, knobs, make(mid)):
            hi = mid
        else:
            lo = mid
    return make(hi)
