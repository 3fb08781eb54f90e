"""Fine-tuning: start from another run's last checkpoint or torchvision's ImageNet weights, a new output
layer when the classes differ, the head at its own learning rate (optim.head_lr_mult), a frozen body.

The output layers ("head") are the model's last dense layer, or those a model names (`head_layers()`:
a detector's class and box predictors). Weights are copied by name and shape;
the head is replaced (Xavier-initialised, as the book does) when its shape differs, and any other
layer that does not fit is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from d2ltui.errors import UserError

if TYPE_CHECKING:  # pragma: no cover - torch is imported by the functions that train (config checks need none)
    import torch
    from torch import nn

TORCHVISION_PREFIX = "torchvision:"
# The book's models with torchvision's layout: init_from "torchvision:NAME" fits model.name torchvision:NAME (any of
# torchvision.models with weights) and these too
TORCHVISION_LAYOUTS = {"resnet18": "tv-resnet18"}
FREEZE = ("none", "body")


def output_layer(model: nn.Module) -> str:
    """The qualified name of the model's output layer: its last nn.Linear."""
    from torch import nn

    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise UserError(f"{type(model).__name__} has no dense output layer to fine-tune")
    return names[-1]


def head_layers(model: nn.Module) -> tuple[str, ...]:
    """The qualified names of the model's output layers: those it names, else its last dense layer."""
    named = getattr(model, "head_layers", None)
    return tuple(named()) if callable(named) else (output_layer(model),)


def split_head(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(body parameters, head parameters)."""
    heads = tuple(f"{name}." for name in head_layers(model))
    body, top = [], []
    for name, p in model.named_parameters():
        (top if name.startswith(heads) else body).append(p)
    return body, top


def is_torchvision(source: str) -> bool:
    return source.startswith(TORCHVISION_PREFIX)


def resolve_source(source: str, model_name: str, runs_dir: str | Path | None = None) -> str:
    """train.init_from checked and made canonical: `torchvision:NAME`, or the folder of a run with a checkpoint."""
    if is_torchvision(source):
        name = source[len(TORCHVISION_PREFIX):]
        fits = [f"{TORCHVISION_PREFIX}{name}", *([TORCHVISION_LAYOUTS[name]] if name in TORCHVISION_LAYOUTS else [])]
        if model_name not in fits:
            raise UserError(f"train.init_from={source} needs model.name={' or '.join(reversed(fits))} "
                            f"(torchvision's layout), not {model_name}")
        tv_weights(name)  # a model without published weights is one line here
        return source
    from d2ltui.rundir.store import CHECKPOINT, RunDir

    run = RunDir.find(source, runs_dir)
    if not (run.path / CHECKPOINT).is_file():
        raise UserError(f"train.init_from: run {run.id} has no checkpoint yet ({run.path / CHECKPOINT})")
    return str(run.path)


def tv_weights(name: str) -> Any:
    """torchvision's default weights of model NAME (its weights API: `get_model_weights(NAME).DEFAULT`)."""
    import torchvision.models as tvm

    try:
        return tvm.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise UserError(f"train.init_from={TORCHVISION_PREFIX}{name}: torchvision has no weights for {name!r}") from None


def weights_file(name: str) -> Path:
    """Where torchvision's weights of model `name` live in the torch hub cache."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / tv_weights(name).url.rsplit("/", 1)[-1]


def torchvision_state(name: str, allow_download: bool) -> dict[str, torch.Tensor]:
    """torchvision's weights of model `name` from the hub cache, downloaded first when allowed."""
    import torch

    from d2ltui.data.fetch import describe, socket_timeout

    weights = tv_weights(name)
    path, err = weights_file(name), None
    if not path.is_file() and allow_download:
        try:
            with socket_timeout():
                return weights.get_state_dict(progress=False, check_hash=True)
        except Exception as e:  # noqa: BLE001 - any download failure is one line
            err = e
    if not path.is_file():
        why = f"download failed ({describe(err)})" if err else "data.download is off"
        raise UserError(f"train.init_from={TORCHVISION_PREFIX}{name}: {path} not found; {why}. "
                        f"Put {weights.url} there (the torch hub cache, $TORCH_HOME)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise UserError(f"train.init_from: cannot read {path} ({type(e).__name__}); delete it to download again") from None


def check_available(source: str, allow_download: bool) -> None:
    """torchvision weights that are neither cached nor downloadable are one line before any work."""
    if is_torchvision(source) and not allow_download:
        name = source[len(TORCHVISION_PREFIX):]
        if not weights_file(name).is_file():
            torchvision_state(name, False)  # raises the line saying where to put the file


def source_state(source: str, allow_download: bool, runs_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    if is_torchvision(source):
        return torchvision_state(source[len(TORCHVISION_PREFIX):], allow_download)
    from d2ltui.rundir.checkpoint import load_checkpoint
    from d2ltui.rundir.store import CHECKPOINT, RunDir

    return load_checkpoint(RunDir.find(source, runs_dir).path / CHECKPOINT)["model"]


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Copy `state` into `model` by name; a head of another shape is replaced. Returns the replaced names."""
    from torch import nn

    heads = tuple(f"{name}." for name in head_layers(model))
    own = model.state_dict()
    merged, replaced = dict(own), []
    for key, value in own.items():
        theirs = state.get(key)
        if theirs is not None and theirs.shape == value.shape:
            merged[key] = theirs.to(value.dtype)
        elif key.startswith(heads):
            replaced.append(key)
        else:
            got = "missing" if theirs is None else f"shape {tuple(theirs.shape)}, the model has {tuple(value.shape)}"
            hint = " (set data.channels=3 for 3-channel weights)" if theirs is not None and theirs.dim() == 4 else ""
            raise UserError(f"train.init_from={source}: layer {key} does not fit ({got}){hint}")
    model.load_state_dict(merged)
    for head in heads:  # a head of another shape starts afresh (Xavier, as the book does)
        if any(key.startswith(head) for key in replaced):
            nn.init.xavier_uniform_(model.get_submodule(head[:-1]).weight)
    return replaced


def prepare_model(cfg: Any, model: nn.Module, prepare: Any) -> list[dict[str, Any]] | list[nn.Parameter]:
    """Apply train.init_from and train.freeze to `model`; the parameters (or groups) the optimizer gets."""
    t = cfg.train
    if t.init_from:
        load_weights(model, source_state(t.init_from, cfg.data.download), t.init_from)
        if is_torchvision(t.init_from) and hasattr(prepare, "normalise_as"):
            from d2ltui.data.transforms import IMAGENET_MEAN, IMAGENET_STD

            prepare.normalise_as(IMAGENET_MEAN, IMAGENET_STD)
    body, head = split_head(model) if (t.freeze == "body" or cfg.optim.head_lr_mult != 1.0) else ([], [])
    if t.freeze == "body":
        for p in body:
            p.requires_grad_(False)
    if cfg.optim.head_lr_mult != 1.0:
        return [{"params": body, "lr_mult": 1.0}, {"params": head, "lr_mult": cfg.optim.head_lr_mult}]
    return list(model.parameters())
