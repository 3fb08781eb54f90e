"""Your own model by reference (path/to/file.py:Name, package.module:Name, torchvision:NAME) as a ModelSpec.

A reference resolves to a ModelSpec like the book's: its builder, its knobs read from the
signature (defaults and types), its task (`model.task`) and a default input of that task, so
the inspector, `build_model` and config validation treat it as any other model. A model file
is Python that runs with the user's rights, like any import. Nothing here imports torch until
a reference is resolved, so listing the catalog stays light.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Any, Callable

from d2ltui.errors import UserError
from d2ltui.zoo.registry import Knob, ModelSpec, Shape, suggest

TORCHVISION = "torchvision:"
CHAPTER = "Your models"
# The input each task of config.schema's MODEL_TASKS feeds a model (tests check both name the same tasks).
TASK_INPUTS = {"classification": "image", "regression": "features", "language-model": "tokens", "seq2seq": "seq2seq",
               "detection": "image", "gan": "latent"}
DEFAULT_TASK = "classification"
NAMED_ONLY = ("detection", "gan")  # tasks a model has only when model.task names them (their interface: README)
IMAGE_SIDE, TOKENS = 224, 32  # the default input of an image model (torchvision's) and of a sequence model
CHANNEL_KNOBS, WIDTH_KNOBS = ("in_channels", "in_chans"), ("in_features", "input_dim", "num_inputs")
LATENT_KNOBS = ("latent_dim", "z_dim")
MODULE_PREFIX = "d2ltui_model_"  # files load as d2ltui_model_<hash>: never a name another module has
FORMS = "path/to/file.py:Name, package.module:Name or torchvision:NAME"
_LITERALS = (bool, int, float, str, tuple)
_FILES: dict[Path, tuple[tuple[int, int], Any]] = {}  # a loaded file's module, by (mtime, size)


def is_reference(name: str) -> bool:
    """Whether a model name is a reference (the book's names have no colon)."""
    return ":" in name


def split(ref: str) -> tuple[str, str]:
    """'models/net.py:Net' -> ('models/net.py', 'Net'); anything else of the form is a UserError."""
    target, _, name = ref.strip().rpartition(":")
    if not target or not name.isidentifier():
        raise UserError(f"model {ref!r}: expected {FORMS}")
    return target, name


def is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def file_reference(name: str) -> Path | None:
    """The file a path/to/file.py:Name model name reads (absolute), else None (a book model, a module, torchvision)."""
    if not is_reference(name):
        return None
    target = split(name)[0]
    return _file_path(target) if target != "torchvision" and is_file_target(target) else None


def reference_spec(ref: str, task: str | None = None, copy: str | None = None) -> ModelSpec:
    """The ModelSpec of a reference, for `task` (None: classification, or the task the data fits); a file
    reference is read from `copy` when given (a run's copy of its file), its name staying `ref`."""
    target, name = split(ref)
    made = ref
    if copy and is_file_target(target):
        target, made = copy, f"{copy}:{name}"
    also = () if task else tuple(t for t in TASK_INPUTS if t not in (DEFAULT_TASK, *NAMED_ONLY))  # the data's
    task = task or DEFAULT_TASK
    if task not in TASK_INPUTS:
        raise UserError(f"model.task: {task!r} is not one of {', '.join(TASK_INPUTS)}")
    if target == "torchvision":
        build, knobs, doc, inputs = _torchvision(name)
        source = ""
    else:
        obj, source = load_object(target, name)
        knobs, required = signature_knobs(obj)
        build = _checked_builder(obj, ref, source, required)
        doc = (inspect.getdoc(obj) or "").split("\n")[0] or f"{name} from {target}"
        inputs = _forward_arity(obj)
    kind = TASK_INPUTS[task]
    shape = _default_shape(kind, knobs)
    default = shape if kind == "seq2seq" else shape * max(inputs, 1)
    spec = ModelSpec(ref, CHAPTER, task, kind, default, made, knobs, doc, also, source=source or target)
    _BUILDERS[made] = build
    return spec


_BUILDERS: dict[str, Callable[..., Any]] = {}


def builder(ref: str) -> Callable[..., Any]:
    """The callable that builds a reference's model from its knobs (resolving the reference if needed)."""
    if ref not in _BUILDERS:
        reference_spec(ref)
    return _BUILDERS[ref]


def _default_shape(kind: str, knobs: dict[str, Knob]) -> tuple[Shape, ...]:
    def knob(names, fallback):
        return next((knobs[n].default for n in names if n in knobs and isinstance(knobs[n].default, int)), fallback)

    if kind == "image":
        return ((1, knob(CHANNEL_KNOBS, 3), IMAGE_SIDE, IMAGE_SIDE),)
    if kind == "features":
        return ((1, knob(WIDTH_KNOBS, 1)),)
    if kind == "tokens":
        return ((1, TOKENS),)
    if kind == "latent":  # a GAN's forward(z): one latent vector
        return ((1, knob(LATENT_KNOBS, 2)),)
    return ((1, TOKENS), (1, TOKENS))


# ---- loading ----

def _file_path(target: str) -> Path:
    try:
        path = Path(target).expanduser().resolve()
    except (RuntimeError, OSError) as err:
        raise UserError(f"model file {target}: {err}") from None
    if not path.is_file():
        raise UserError(f"model file {target}: no such file")
    return path


def load_object(target: str, name: str) -> tuple[Any, str]:
    """The class or function `name` of a file or module, and the file it lives in."""
    module = _load_file(target) if is_file_target(target) else _import(target)
    where = getattr(module, "__file__", None) or target
    if not hasattr(module, name):
        own = sorted(k for k, v in vars(module).items() if (inspect.isclass(v) or inspect.isfunction(v))
                     and getattr(v, "__module__", None) == module.__name__ and not k.startswith("_"))
        raise UserError(f"{target} has no {name!r}{suggest(name, own)}; it defines: {', '.join(own) or 'nothing'}")
    obj = getattr(module, name)
    from torch import nn

    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise UserError(f"{_line_of(obj, where)}: {name} is a class but not an nn.Module")
    if not inspect.isclass(obj) and not callable(obj):
        raise UserError(f"{target}: {name} is {type(obj).__name__}, not an nn.Module class or a function returning one")
    return obj, where


def _load_file(target: str) -> Any:
    """Run a model file as a module of its own name (its folder importable while it runs), once per version."""
    path = _file_path(target)
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    if path in _FILES and _FILES[path][0] == stamp:
        return _FILES[path][1]
    module_name = MODULE_PREFIX + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.append(folder)  # its sibling files import as they would under `python file.py`
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(module_name, None)
        raise UserError(f"{err.filename or target}:{err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:  # noqa: BLE001 - any failure of the user's code while loading
        sys.modules.pop(module_name, None)
        raise UserError(f"{where(err, str(path))}: {type(err).__name__} while loading {target}: {one_line(err)}") from None
    finally:
        if added:
            sys.path.remove(folder)
    _FILES[path] = (stamp, module)
    return module


def _import(target: str) -> Any:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        raise UserError(f"model module {target}: no module named {err.name!r}") from None
    except SyntaxError as err:
        raise UserError(f"{err.filename}:{err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:  # noqa: BLE001
        raise UserError(f"{where(err, '')}: {type(err).__name__} while importing {target}: {one_line(err)}") from None


def where(err: BaseException, prefer: str) -> str:
    """'file.py:12' of the innermost frame in file `prefer` (else the innermost frame of all)."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return prefer or "?"
    mine = [f for f in frames if prefer and f.filename == prefer]
    frame = (mine or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


def one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split()).rstrip(".") or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line_of(obj: Any, fallback: str) -> str:
    try:
        return f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"
    except (OSError, TypeError):
        return fallback


# ---- knobs from the signature ----

_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "tuple": tuple}


def _annotation_type(annotation: Any) -> type | None:
    """int for `int`, 'int', 'int | None' or Optional[int]; None when not one of the literal types."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, type):
        return annotation if annotation in _LITERALS else None
    words = [w.strip() for w in str(annotation).replace("Optional[", "").rstrip("]").split("|")]
    kinds = {_TYPES[w] for w in words if w in _TYPES}
    return kinds.pop() if len(kinds) == 1 else None


def signature_knobs(obj: Any) -> tuple[dict[str, Knob], list[str]]:
    """The knobs of a class's constructor or a function: its parameters with literal defaults (their type)
    or a literal annotation; and the names of those without a default (they must be set)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return {}, []
    knobs, required = {}, []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = p.default
        if isinstance(default, list):
            default = tuple(default)
        if default is p.empty:
            kind = _annotation_type(p.annotation)
            if kind is None:
                kind = str
            knobs[p.name] = Knob(p.name, kind, None, help=f"{kind.__name__}, required")
            required.append(p.name)
        elif isinstance(default, _LITERALS):
            knobs[p.name] = Knob(p.name, type(default), default, help=type(default).__name__)
        elif default is None and (kind := _annotation_type(p.annotation)) is not None:
            knobs[p.name] = Knob(p.name, kind, None, help=f"{kind.__name__} or None")
    return knobs, required


def _forward_inputs(obj: Any) -> list[inspect.Parameter]:
    """The positional parameters of a module class's forward (none known for a function: its model is not built)."""
    forward = getattr(obj, "forward", None) if inspect.isclass(obj) else None
    try:
        params = list(inspect.signature(forward).parameters.values())[1:] if forward is not None else []
    except (TypeError, ValueError):
        return []
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _forward_arity(obj: Any) -> int:
    """How many tensors a module class's forward requires (1 when not known)."""
    return sum(1 for p in _forward_inputs(obj) if p.default is p.empty) or 1


def check_inputs(spec: ModelSpec, count: int) -> None:
    """A UserError naming what forward expects when `count` tensors cannot feed it (inspect feeds tensors only)."""
    params = _forward_inputs(load_object(*split(spec.builder))[0]) if spec.source != "torchvision" else []
    if not params:
        return
    names = ", ".join(p.name + ("" if p.default is p.empty else "=...") for p in params)
    required = [p for p in params if p.default is p.empty]
    if not len(required) <= count <= len(params):
        want = f"{len(required)}" + (f" to {len(params)}" if len(params) > len(required) else "")
        raise UserError(f"--input: {spec.name}'s forward({names}) takes {want} input(s), one shape each "
                        f"(e.g. {','.join(['x'.join(map(str, spec.default_input[0]))] * len(required))}); got {count}")
    for p in params[:count]:
        kind = _annotation_name(p.annotation)
        if kind and kind not in ("Tensor", "torch.Tensor", "Tensor | None", "Optional[Tensor]", "Any"):
            raise UserError(f"--input: {spec.name}'s forward expects {p.name} as {kind}; "
                            "inspect can only build a tensor for each input")


def _annotation_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def _checked_builder(obj: Any, ref: str, source: str, required: list[str]) -> Callable[..., Any]:
    def build(**knobs: Any) -> Any:
        missing = [k for k in required if knobs.get(k) is None]
        if missing:
            raise UserError(f"model {ref}: set {', '.join(f'model.{k}' for k in missing)} (no default in its signature)")
        try:
            model = obj(**knobs)
        except UserError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's constructor refused
            raise UserError(f"{where(err, source)}: {type(err).__name__} while building {ref}: {one_line(err)}") from None
        from torch import nn

        if not isinstance(model, nn.Module):
            raise UserError(f"{_line_of(obj, source)}: {ref.rpartition(':')[2]}() returned {type(model).__name__}, "
                            "not an nn.Module")
        return model

    return build


# ---- torchvision ----

def _torchvision(name: str) -> tuple[Callable[..., Any], dict[str, Knob], str, int]:
    import torchvision.models as models

    known = models.list_models()
    if name not in known:
        raise UserError(f"model torchvision:{name}: not one of torchvision.models.list_models(){suggest(name, known)}")
    knobs = {}
    try:
        categories = models.get_model_weights(name).DEFAULT.meta.get("categories")
    except (ValueError, AttributeError):
        categories = None
    if categories:
        knobs["num_classes"] = Knob("num_classes", int, len(categories), help="int", min=1)
    inputs = 2 if name in models.list_models(module=models.optical_flow) else 1
    return partial(models.get_model, name, weights=None), knobs, f"torchvision.models.{name}", inputs


def torchvision_names() -> list[str]:
    """Every model torchvision can build (imports torchvision)."""
    import torchvision.models as models

    return models.list_models()
