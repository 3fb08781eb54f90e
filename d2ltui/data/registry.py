"""Dataset names, the tasks each fits and their loaders; `DATASETS` imports no torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d2ltui.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from d2ltui.config.schema import DataConfig
    from d2ltui.data.base import DataModule



@dataclass(frozen=True)
class DatasetInfo:
    """One dataset as the pickers show it: name, tasks, a line of description, embedded or real."""

    name: str
    tasks: tuple[str, ...]
    description: str
    embedded: bool  # True: generated or shipped, no download; False: real files or a download
    loader: str  # "module:function", called as function(cfg, task) -> DataModule

    @property
    def kind(self) -> str:
        return "embedded" if self.embedded else "real"


_ALL = [
    DatasetInfo("synthetic-regression", ("regression",),
                "y = Xw + b + noise with the book's w = [2, -3.4], b = 4.2, noise 0.01", True,
                "d2ltui.data.synthetic:load_regression"),
    DatasetInfo("kernel-regression", ("regression",),
                "the book's 50 noisy points of 2 sin x + x^0.8 as (query, keys, values) for attention pooling",
                True, "d2ltui.data.kernel:load_kernel_regression"),
    DatasetInfo("weight-decay", ("regression",),
                "the book's weight-decay data: y = 0.05 + sum 0.01 x_i + noise, 200 features, 20 train / 100 val",
                True, "d2ltui.data.synthetic:load_weight_decay"),
    DatasetInfo("moons", ("classification",), "two interleaving half circles, 2 features, 2 classes", True,
                "d2ltui.data.synthetic:load_points"),
    DatasetInfo("circles", ("classification",), "a circle inside a ring, 2 features, 2 classes", True,
                "d2ltui.data.synthetic:load_points"),
    DatasetInfo("spirals", ("classification",), "three interleaved spiral arms, 2 features, 3 classes", True,
                "d2ltui.data.synthetic:load_points"),
    DatasetInfo("xor", ("classification",), "points labelled by the sign of x1 * x2, 2 features, 2 classes", True,
                "d2ltui.data.synthetic:load_points"),
    DatasetInfo("shapes", ("classification",),
                "procedural images of 10 shape kinds at random place, size, rotation and shade (28..224 px)",
                True, "d2ltui.data.shapes:load_shapes"),
    DatasetInfo("python-docs", ("language-model",),
                "character corpus from the Python documentation shipped with CPython (pydoc_data)", True,
                "d2ltui.data.text:load_python_docs"),
    DatasetInfo("reverse", ("seq2seq",), "reverse a random string of letters (character tokens)", True,
                "d2ltui.data.seq2seq:load_reverse"),
    DatasetInfo("dates", ("seq2seq",), "written dates to ISO, e.g. '27 november 2026' -> '2026-11-27'", True,
                "d2ltui.data.seq2seq:load_dates"),
    DatasetInfo("tabular-missing", ("regression",),
                "house prices with numeric and categorical columns and missing values", True,
                "d2ltui.data.tabular:load_tabular_missing"),
    DatasetInfo("bananas", ("detection",),
                "procedural banana-like objects on textured backgrounds, one box an image (256 px, resizable)", True,
                "d2ltui.data.bananas:load_bananas"),
    DatasetInfo("gaussian-2d", ("gan",), "the book's 1,000 points X A + b, A = [[1, 2], [-0.1, 0.5]], b = [1, 2]",
                True, "d2ltui.data.generative:load_gaussian_2d"),
    DatasetInfo("sprites", ("gan",), "procedural 64x64 colour figures (disks, rings, stars, ...) for image GANs",
                True, "d2ltui.data.generative:load_sprites"),
    *(DatasetInfo(f"frozenlake-{size}{slip}", ("value-iteration", "q-learning"),
                  f"gymnasium FrozenLake-v1, {size} map, {'slippery' if slip else 'deterministic'} ice"
                  + (" (the book's)" if size == "4x4" and not slip else ""), True,
                  "d2ltui.data.environments:load_frozenlake")
      for size in ("4x4", "8x8") for slip in ("", "-slippery")),
    DatasetInfo("fashion-mnist", ("classification", "gan"), "Fashion-MNIST, 28x28 grey clothing, 10 classes (torchvision)",
                False, "d2ltui.data.images:load_fashion_mnist"),
    DatasetInfo("mnist", ("classification",), "MNIST, 28x28 grey digits, 10 classes (torchvision)", False,
                "d2ltui.data.images:load_mnist"),
    DatasetInfo("cifar10", ("classification",), "CIFAR-10, 32x32 colour images, 10 classes (torchvision)", False,
                "d2ltui.data.images:load_cifar10"),
    DatasetInfo("hotdog", ("classification",),
                "the book's hot dog set: 2000 train / 1800 test photos, hotdog or not (ImageFolder, 224 px)", False,
                "d2ltui.data.folders:load_hotdog"),
    DatasetInfo("pokemon", ("gan",), "the book's Pokemon sprites (ImageFolder, SHA-1 checked), 64x64 colour",
                False, "d2ltui.data.pokemon:load_pokemon"),
    DatasetInfo("time-machine", ("language-model",), "H. G. Wells' The Time Machine, the book's character corpus",
                False, "d2ltui.data.text:load_time_machine"),
    DatasetInfo("fra-eng", ("seq2seq",), "the book's English-French sentence pairs (word tokens)", False,
                "d2ltui.data.seq2seq:load_fra_eng"),
    DatasetInfo("kaggle-house", ("regression",),
                "the book's Kaggle house prices: 1460 houses, 79 features, log(SalePrice) target", False,
                "d2ltui.data.kaggle:load_kaggle_house"),
    DatasetInfo("banana-detection", ("detection",),
                "the book's banana detection set: 1000 + 100 images of 256 px, one box each", False,
                "d2ltui.data.banana_detection:load_banana_detection"),
    DatasetInfo("text-file", ("language-model",), "any local text file (data.path) as a character corpus", False,
                "d2ltui.data.text:load_text_file"),
    DatasetInfo("csv", ("regression", "classification"),
                "any CSV file (data.path) with a target column (data.target)", False,
                "d2ltui.data.tabular:load_csv"),
]
DATASETS: dict[str, DatasetInfo] = {d.name: d for d in _ALL}


def datasets_for(task: str) -> list[str]:
    """Names of the datasets that fit a task, in the registry's order."""
    return [d.name for d in _ALL if task in d.tasks]


def get_dataset(name: str) -> DatasetInfo:
    if name not in DATASETS:
        from d2ltui.zoo.registry import suggest

        raise UserError(f"data.name: unknown dataset {name!r}{suggest(name, list(DATASETS))}; "
                        f"known: {', '.join(DATASETS)}")
    return DATASETS[name]


def check_task(name: str, task: str) -> DatasetInfo:
    """The dataset's info, or a UserError naming the dataset, the task and what fits it."""
    info = get_dataset(name)
    if task not in info.tasks:
        fits = ", ".join(datasets_for(task)) or "none"
        raise UserError(f"data.name={name} does not fit the task {task} (it fits {', '.join(info.tasks)}); "
                        f"datasets for {task}: {fits}")
    return info


def task_for(spec: Any, name: str) -> str:
    """The task a model trains on dataset `name`: its own, else one of `spec.also` the data fits.

    An unknown dataset or one that fits none gives the model's own task (check_task then says why).
    """
    info = DATASETS.get(name)
    if info is None or spec.task in info.tasks:
        return spec.task
    return next((t for t in spec.also if t in info.tasks), spec.task)


def data_root(cfg: "DataConfig") -> Path:
    """data.root expanded (see d2ltui.paths.data_root)."""
    from d2ltui.paths import data_root as root_of

    return root_of(cfg.root)


def check_config(cfg: "DataConfig") -> None:
    """Range checks of the data section that every loader relies on (the rules of config.schema)."""
    from d2ltui.config.schema import check_section

    check_section("data", cfg)
    bad = [c for c in cfg.classes if isinstance(c, bool) or not isinstance(c, (int, str)) or (isinstance(c, int) and c < 0)]
    if bad or len(set(map(str, cfg.classes))) != len(cfg.classes):
        raise UserError(f"data.classes: {cfg.classes!r} must be distinct class indices (from 0) or names")


def load_data(cfg: "DataConfig", task: str, device: Any = "cpu") -> "DataModule":
    """Load `cfg.name` for `task` as a DataModule whose tensors live on `device`."""
    info = check_task(cfg.name, task)
    check_config(cfg)
    module, _, func = info.loader.partition(":")
    loader = getattr(importlib.import_module(module), func)
    dm = loader(cfg, task)
    dm.info.setdefault("embedded", info.embedded)
    if cfg.classes:
        from d2ltui.data.common import keep_classes

        dm = keep_classes(dm, cfg.classes)
    if task == "regression":  # a model serving several tasks (mlp) sizes its output from the targets
        dm.model_knobs.setdefault("num_classes", int(dm.train[-1][0].numel()))
    return dm.to(device)
