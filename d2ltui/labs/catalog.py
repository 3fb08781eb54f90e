"""Every lab as a LabSpec: metadata only, no torch import (the compute modules load on first use)."""

from __future__ import annotations

from typing import Callable

from d2ltui.config.schema import SCHEDULES
from d2ltui.labs.registry import LabSpec, register
from d2ltui.zoo.catalog import CH_ATTN, CH_CV, CH_GP, CH_OPT
from d2ltui.zoo.registry import Knob


def _lens(value: tuple) -> str | None:
    """Valid lengths of the book's (2, 2, 4) scores: one per example (2, 3) or one per query ((1, 3), (2, 4))."""
    flat = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    nested = all(isinstance(v, tuple) and len(v) == 2 for v in value) and all(
        isinstance(x, int) and not isinstance(x, bool) for v in value for x in v)
    values = list(value) if flat else [x for v in value for x in v] if nested else []
    if len(value) == 2 and (flat or nested) and all(1 <= x <= 4 for x in values):
        return None
    return "expected two lengths from 1 to 4, e.g. (2, 3), or two per example, e.g. ((1, 3), (2, 4))"


def _two_lens(value: tuple) -> str | None:
    ok = len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10 for v in value)
    return None if ok else "expected two lengths from 1 to 10, e.g. (2, 6)"


SEED = Knob("seed", int, 0, "random seed of the data", min=0, max=2**31 - 1)

register(LabSpec(
    "attention-pooling", CH_ATTN, "Nadaraya-Watson attention pooling",
    "Kernel regression as attention: 40 noisy points of 2 sin x + x, 50 queries, a kernel and its width.",
    "d2ltui.labs.nadaraya_watson:compute",
    {k.name: k for k in (
        Knob("kernel", str, "gaussian", "similarity of a query to a key",
             choices=("gaussian", "boxcar", "constant", "epanechikov")),
        Knob("width", float, 0.5, "kernel width (sigma of the Gaussian, radius of the others)", min=0.1, max=1.0),
        SEED)},
    section="11.2"))

register(LabSpec(
    "masked-softmax", CH_ATTN, "Masked softmax",
    "Softmax over the first valid_lens keys of random (2, 2, 4) scores; masked keys get weight 0.",
    "d2ltui.labs.masked_softmax:compute",
    {k.name: k for k in (
        Knob("valid_lens", tuple, (2, 3), "one length per example, or one per query: ((1, 3), (2, 4))",
             check=_lens),
        SEED)},
    section="11.3"))

register(LabSpec(
    "attention-scoring", CH_ATTN, "Additive vs scaled dot-product attention",
    "The book's 2 queries over 10 keys: additive and scaled dot-product weights, masked by valid_lens.",
    "d2ltui.labs.attention_scoring:compute",
    {k.name: k for k in (
        Knob("valid_lens", tuple, (2, 6), "valid keys of each of the two examples", check=_two_lens),
        Knob("example", str, "normal", "the book's tensors: normal keys and values (2nd edition) or "
             "ones keys and arange values (earlier edition)", choices=("normal", "ones")),
        SEED)},
    section="11.3"))


def _fractions(value: tuple) -> str | None:
    ok = value and len(value) <= 6 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 2 for v in value)
    return None if ok else "expected up to 6 numbers in (0, 2], e.g. (0.75, 0.5, 0.25)"


ANCHOR_IMAGE_SIDE = 96  # the anchor-boxes lab's image, in pixels


def _pixel(value: tuple) -> str | None:
    side = ANCHOR_IMAGE_SIDE
    ok = len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < side for v in value)
    return None if ok else f"expected (x, y) with both from 0 to {side - 1} (the image is {side} x {side})"


def _region(value: tuple) -> str | None:
    ok = len(value) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 40
                                 for v in value) and value[2] >= value[0] and value[3] >= value[1]
    return None if ok else "expected (x0, y0, x1, y1) in image pixels from 0 to 40, with x1 >= x0 and y1 >= y0"


register(LabSpec(
    "anchor-boxes", CH_CV, "Anchor boxes",
    "The anchors centred on one pixel of a banana image, each with its IoU against the true box; or the "
    "multiscale grids 4x4, 2x2, 1x1.",
    "d2ltui.labs.anchors:compute",
    {k.name: k for k in (
        Knob("sizes", tuple, (0.75, 0.5, 0.25), "anchor sizes, as fractions of the image", check=_fractions),
        Knob("ratios", tuple, (1.0, 2.0, 0.5), "aspect ratios (width / height)", check=_fractions),
        Knob("pixel", tuple, (48, 48), "(x, y) of the pixel the anchors centre on", check=_pixel),
        Knob("view", str, "pixel", "one pixel's anchors, or the book's multiscale grids (sizes 0.15, 0.4, 0.8)",
             choices=("pixel", "multiscale")),
        SEED)},
    section="14.4"))

register(LabSpec(
    "roi-pooling", CH_CV, "RoI pooling and RoIAlign",
    "torchvision's roi_pool and roi_align on the book's 4x4 features, two regions as knobs.",
    "d2ltui.labs.roi:compute",
    {k.name: k for k in (
        Knob("region1", tuple, (0.0, 0.0, 20.0, 20.0), "first region (x0, y0, x1, y1) in image pixels",
             check=_region),
        Knob("region2", tuple, (0.0, 10.0, 30.0, 30.0), "second region (x0, y0, x1, y1) in image pixels",
             check=_region),
        Knob("spatial_scale", float, 0.1, "feature map size / image size", min=0.05, max=1.0),
        Knob("output_size", int, 2, "pooled grid side", min=1, max=4),
        Knob("sampling_ratio", int, -1, "roi_align's sampling points a bin (-1: adaptive)", min=-1, max=4))},
    section="14.8"))


METHODS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw")  # optimizer-paths


def names(text: str) -> list[str]:
    """A comma-separated list knob ("gd,momentum") as its names."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _names_of(options: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        bad = [n for n in names(text) if n not in options]
        if bad or not names(text):
            return f"unknown {bad[0]!r}" if bad else "name one or more"
        return None
    return check


def _start(value: tuple) -> str | None:
    ok = value == () or (len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and -10 <= v <= 10 for v in value))
    return None if ok else "expected () for the function's own start, or (x1, x2) with both from -10 to 10"


def _epochs(value: tuple) -> str | None:
    ok = 0 < len(value) <= 10 and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100 for v in value)
    return None if ok else "expected up to 10 epochs from 1 to 100, e.g. (15, 30)"


register(LabSpec(
    "optimizer-paths", CH_OPT, "Optimizer paths on the book's 2-D functions",
    "Gradient descent, momentum, Adagrad, RMSProp, Adadelta and Adam (torch.optim) from (-5, -2) over the contours.",
    "d2ltui.labs.optimizer_paths:compute",
    {k.name: k for k in (
        Knob("function", str, "ill-conditioned", "0.1 x1^2 + 2 x2^2 (12.6), x1^2 + 2 x2^2 (12.3), a Rosenbrock valley",
             choices=("ill-conditioned", "elliptic", "rosenbrock")),
        Knob("optimizers", str, "gd,momentum", f"comma-separated, overlaid: {', '.join(METHODS)}",
             check=_names_of(METHODS)),
        Knob("lr", float, 0.6, "learning rate eta of every optimizer", min=1e-4, max=10.0),
        Knob("momentum", float, 0.5, "beta of momentum and nesterov (also rmsprop's momentum)", min=0.0, max=0.99),
        Knob("rho", float, 0.9, "RMSProp's gamma (torch's alpha), Adadelta's rho", min=0.01, max=0.999),
        Knob("beta1", float, 0.9, "Adam's first-moment decay", min=0.0, max=0.999),
        Knob("beta2", float, 0.999, "Adam's second-moment decay", min=0.0, max=0.9999),
        Knob("eps", float, 0.0, "the adaptive methods' epsilon; 0 keeps torch's default", min=0.0, max=0.1),
        Knob("steps", int, 20, "optimizer steps (the book: 20)", min=1, max=200),
        Knob("start", tuple, (), "(x1, x2) to start from; () is the function's own ((-5, -2), Rosenbrock (-1.5, 2))",
             check=_start))},
    section="12.6"))

register(LabSpec(
    "lr-schedules", CH_OPT, "Learning-rate schedules",
    "The book's factor, multi-factor, cosine with warm-up and one-cycle schedules over the steps, as training "
    "builds them.",
    "d2ltui.labs.lr_schedules:compute",
    {k.name: k for k in (
        Knob("schedules", str, "factor,multi-factor,cosine-warmup,one-cycle", f"comma-separated: {', '.join(SCHEDULES)}",
             check=_names_of(SCHEDULES)),
        Knob("lr", float, 0.5, "the base learning rate (optim.lr)", min=1e-4, max=10.0),
        Knob("epochs", int, 30, "epochs drawn", min=1, max=100),
        Knob("steps_per_epoch", int, 1, "optimizer steps an epoch", min=1, max=20),
        Knob("factor", float, 0.9, "optim.factor: x each epoch (factor), x at each milestone (multi-factor)",
             min=0.01, max=1.0),
        Knob("milestones", tuple, (15, 30), "optim.milestones: the epochs multi-factor multiplies at", check=_epochs),
        Knob("min_lr", float, 0.01, "optim.min_lr: factor's floor, cosine-warmup's end", min=0.0, max=1.0),
        Knob("warmup_steps", int, 5, "optim.warmup_steps of cosine-warmup", min=0, max=1000),
        Knob("pct_start", float, 0.3, "optim.pct_start: one-cycle's rising share", min=0.05, max=0.95))},
    section="12.11"))

register(LabSpec(
    "gaussian-process", CH_GP, "Gaussian process regression",
    "The book's 50 points of sin x + sin(4x)/2 with noise 0.25: RBF prior samples, the posterior mean and its band.",
    "d2ltui.labs.gaussian_process:compute",
    {k.name: k for k in (
        Knob("length_scale", float, 0.2, "the RBF kernel's length-scale", min=0.01, max=10.0),
        Knob("amplitude", float, 1.0, "the RBF kernel's amplitude a (k = a^2 exp(-d^2 / 2 l^2))", min=0.01, max=10.0),
        Knob("noise", float, 0.25, "the observation noise's standard deviation", min=0.01, max=5.0),
        Knob("fit", str, "none", "maximise the marginal likelihood over length-scale and noise (the book), or all three",
             choices=("none", "length-noise", "all")),
        Knob("samples", int, 5, "prior samples drawn", min=0, max=10),
        SEED)},
    section="18.3"))
