"""What a model trains with by default: its task's embedded data, then its own settings for a CPU or an accelerator.

The one owner of "what Start (or `d2l-tui train MODEL` without a preset) trains with". A model's
entry may hold settings for every device (`any`), then for a CPU (`cpu`) or an accelerator
(`gpu`: CUDA or MPS, the book's settings). Only training choices live here (data, optimizer,
epochs, initialisation): architecture knobs stay the book's, so the inspector shows what trains.
Besides: `book`, the book preset an accelerator takes its settings from; `quick`, the quick preset
that shows the model learning (the first minute's reference, benchmarks/bench_defaults.py); `hint`,
what the dashboard says after a first validation short of `below` (halfway from chance to what the
quick preset reaches, as the benchmark measures it) while the run keeps the book's `book_knobs`:
where the book's architecture itself learns slowly, the knob or preset that fixes it.
"""

from __future__ import annotations

import copy
from typing import Any

from d2ltui.tasks.spec import task_spec
from d2ltui.errors import UserError
from d2ltui.zoo.registry import ModelSpec, get_spec, resolve_knobs

SMALLEST = -1  # data.resize: the smallest input side the architecture takes (0, the data's own, when that fits)
# The smallest square input each big model takes with the book's knobs, as the inspector finds it
# (`smallest_working_input`; tests/test_defaults.py checks every entry against it). Kept here so the
# panel needs no torch to fill its fields; a model missing here takes 28 x 28.
SMALLEST_SIDE = {"alexnet": 65, "vgg11": 32, "vgg": 32, "nin": 67, "densenet": 29}

FEATURES_CLASSIFICATION = "moons"  # classifiers of 2-D points (logistic regression) train on these

_BIG_CPU = {"data": {"resize": SMALLEST, "num_train": 1000, "num_val": 500}, "optim": {"name": "adam", "lr": 0.001}}
# the big models quick enough on a CPU to learn the shapes in the first minute given more epochs (about 6.6
# and 3 CPU seconds an epoch, docs/benchmarks.md); the others take 3 (slower, they stay near chance in a minute)
BIG_CPU_EPOCHS = {"alexnet": 8, "resnet18": 12}


def _slow_on_cpu(name: str) -> dict[str, Any]:
    """The hint of a big model that a CPU cannot train to halfway in a minute (said on a CPU only)."""
    return {"metric": "acc", "below": 0.3, "book_knobs": (), "devices": ("cpu",),
            "text": f"{name} is too big to learn in the first minute on a CPU (these defaults are a CPU-sized run). "
                    f"On a GPU it trains with the book's settings; here resnet18 or the preset quick-lenet-shapes "
                    f"learn within a minute."}


MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "tiny-ssd": {"cpu": {"data": {"resize": 64, "num_train": 640, "num_val": 128},
                         "optim": {"name": "adam", "lr": 0.001, "weight_decay": 0.0}, "train": {"epochs": 4}},
                 "book": "ssd-bananas", "quick": "quick-ssd-bananas"},
    "dcgan": {"any": {"data": {"name": "sprites", "batch_size": 256}, "optim": {"name": "adam", "lr": 0.005}}},
    "linear-regression": {"quick": "quick-linear"},
    "gru-lm": {"quick": "quick-rnn-python-docs"},
    "seq2seq-attention": {"quick": "quick-seq2seq-reverse"},
    "nadaraya-watson": {"any": {"data": {"name": "kernel-regression", "batch_size": 50}, "optim": {"lr": 0.5},
                                "train": {"epochs": 5, "log_every": 1}}},  # it eats its own dataset only
    "softmax-regression": {"any": {"data": {"num_train": 20000}, "optim": {"lr": 0.02, "momentum": 0.9},
                                   "train": {"epochs": 5}}},  # shapes defeat a linear model: near its ceiling
    "mlp": {"any": {"data": {"num_train": 4000, "num_val": 1000}, "optim": {"name": "adam", "lr": 0.002},
                    "train": {"epochs": 3}}},
    "lenet": {"any": {"model": {"init": "kaiming"}, "data": {"batch_size": 64, "num_train": 8000, "num_val": 1000},
                      "optim": {"name": "adam", "lr": 0.002}, "train": {"epochs": 20}},
              "quick": "quick-lenet-shapes",
              "hint": {"metric": "acc", "below": 0.46, "book_knobs": ("activation", "norm"),
                       "text": "The book's sigmoid LeNet starts slowly (its point, section 7.6). Batch norm "
                               "(b on the home screen) or the preset quick-lenet-shapes (ReLU) start fast."}},
    "lenet-bn": {"any": {"data": {"batch_size": 64, "num_train": 8000, "num_val": 1000},
                         "optim": {"name": "adam", "lr": 0.002}, "train": {"epochs": 3}}},
    "tv-resnet18": {"cpu": {"data": {"num_train": 2000, "num_val": 500}}},  # 10 epochs in a minute, not 2
    # the big CNNs and ViT: a CPU-feasible run on a CPU, the book's (its preset's settings) on an accelerator;
    # those too slow to learn in the first minute on a CPU say so after their first validation there
    **{name: {"cpu": {**_BIG_CPU, "train": {"epochs": BIG_CPU_EPOCHS.get(name, 3)}}, "book": book,
              **({} if name in BIG_CPU_EPOCHS else {"hint": _slow_on_cpu(name)})} for name, book in (
        ("alexnet", "alexnet"), ("vgg11", "vgg"), ("vgg", "vgg"), ("nin", "nin"), ("googlenet", "googlenet"),
        ("resnet18", "resnet18"), ("resnext", "resnext"), ("densenet", "densenet"), ("vit", "vit"))},
}
BOOK_SECTIONS = {"data": ("batch_size", "resize"), "optim": ("name", "lr", "momentum", "weight_decay", "clip"),
                 "train": ("epochs",)}  # what an accelerator takes from the book's preset (its data stays embedded)


def device_kind(device: str | None) -> str:
    """'cpu' or 'gpu' (any accelerator) for a train.device value; 'auto' asks torch what it would pick."""
    text = (device or "auto").strip().lower()
    if text == "auto":
        from d2ltui.devices import auto_device_type

        text = auto_device_type()
    return "cpu" if text in ("cpu", "") else "gpu"


def train_defaults(spec: ModelSpec, kind: str) -> dict[str, Any]:
    """A TOML-shaped config training `spec` on its task's embedded data, for a 'cpu' or 'gpu' device kind."""
    raw = copy.deepcopy(task_spec(spec.task).defaults)
    raw["model"] = {"name": spec.name}
    if spec.input_kind == "features" and spec.task == "classification":
        raw["data"]["name"] = FEATURES_CLASSIFICATION
    entry = MODEL_DEFAULTS.get(spec.name, {})
    parts = [entry.get("any", {}), entry.get(kind, {})]
    if kind == "gpu" and "book" in entry:
        parts.append(book_settings(entry["book"]))
    for part in parts:
        for section, values in part.items():
            raw.setdefault(section, {}).update(copy.deepcopy(values))
    if raw["data"].get("resize") == SMALLEST:
        raw["data"]["resize"] = smallest_side(spec.name)
    return raw


def book_settings(preset: str) -> dict[str, dict[str, Any]]:
    """The BOOK_SECTIONS settings of a shipped book preset (the presets own the book's numbers)."""
    from d2ltui.config.presets import read_preset_file
    from d2ltui.paths import SHIPPED_PRESETS_DIR

    raw, _ = read_preset_file(SHIPPED_PRESETS_DIR / f"{preset}.toml")
    return {section: {k: raw[section][k] for k in keys if k in raw.get(section, {})}
            for section, keys in BOOK_SECTIONS.items()}


def smallest_side(name: str) -> int:
    """0 when the model takes the data's own 28 x 28 images, else the smallest square side it takes."""
    return SMALLEST_SIDE.get(name, 0)


def first_minute_hint(raw: dict[str, Any], metric: str, value: float, device: str = "") -> str | None:
    """The `hint` of the model of config `raw` (TOML-shaped) when its first validation scored `value` of `metric`
    short of the hint's mark and the run keeps the book's knobs the hint offers to change; else None.

    `device` is where the run trains (its status.json's): a hint for some devices only (a big model on a CPU)
    is said there alone."""
    model = raw.get("model", {})
    hint = MODEL_DEFAULTS.get(model.get("name", ""), {}).get("hint")
    if not hint or metric != hint["metric"] or clears(metric, hint["below"], value):
        return None
    if "devices" in hint and device.split(":")[0] not in hint["devices"]:
        return None
    try:
        spec = get_spec(model["name"])
        knobs = resolve_knobs(spec, {k: v for k, v in model.items() if k in spec.knobs})
    except UserError:
        return None
    book = spec.defaults()
    return hint["text"] if all(knobs[k] == book[k] for k in hint["book_knobs"]) else None


def clears(metric: str, threshold: float, value: float) -> bool:
    """Whether `value` of `metric` is beyond a task's learning bar (`Task.learning_bar`), in the direction
    d2ltui.metrics says is better."""
    from d2ltui.metrics import HIGHER_IS_BETTER

    return value >= threshold if HIGHER_IS_BETTER.get(metric, False) else value <= threshold
