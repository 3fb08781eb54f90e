"""What the model does, drawn in the terminal from samples.json: image grids, boundaries, text, weights."""

from __future__ import annotations

import json
from typing import Any, Callable

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from d2ltui.render.pictures import side_by_side
from d2ltui.tui.widgets.pixel_grid import PixelGrid, label

PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
           "#fabebe", "#008080")


def image_grid(items: list[dict[str, Any]], width: int, cell: int = 14) -> Text:
    per_row = max(1, width // (cell + 1))
    out = Text()
    for start in range(0, len(items), per_row):
        group = items[start:start + per_row]
        out.append_text(side_by_side([item.get("image") or [[0.0]] for item in group], cell))
        for item in group:
            text = label(item, cell)
            out.append(text.plain + " ", style=text.style)
        out.append("\n")
    return out


def boundary(samples: dict[str, Any], width: int) -> Text:
    grid = samples.get("grid", {}).get("classes") or []
    if not grid:
        return Text("no boundary yet")
    size = len(grid)
    cols = min(width, size * 2)
    rows = cols // 2
    marks: dict[tuple[int, int], int] = {}
    xs, ys = samples["grid"]["x"], samples["grid"]["y"]
    for x, y, c in samples.get("points", []):
        col = int((x - xs[0]) / ((xs[-1] - xs[0]) or 1) * (cols - 1))
        row = int((y - ys[0]) / ((ys[-1] - ys[0]) or 1) * (rows - 1))
        marks[(rows - 1 - row, col)] = c
    out = Text()
    for r in range(rows):
        for c in range(cols):
            cls = grid[(rows - 1 - r) * size // rows][c * size // cols]
            bg = PALETTE[cls % len(PALETTE)]
            if (r, c) in marks:
                out.append("●", Style(color=PALETTE[marks[(r, c)] % len(PALETTE)], bgcolor=bg, dim=False))
            else:
                out.append(" ", Style(bgcolor=bg))
        out.append("\n")
    return out


def weights(samples: dict[str, Any]) -> Text:
    out = Text("weights        w                      b\n", style="bold")
    for key in ("learned", "true", "analytic"):
        value = samples.get(key)
        if value:
            w = ", ".join(f"{v:.4f}" for v in value["w"][:6])
            out.append(f"{key:<9} [{w}]  {value['b']:.4f}\n")
    return out


IMAGE_HEADINGS = {"images": "predicted/true", "gan-images": "generated from one fixed latent batch"}


def heading(samples: dict[str, Any]) -> Text:
    """'epoch N: ' and, for image grids, what they show (the line above half-blocks or pixels alike)."""
    head = Text(f"epoch {samples.get('epoch', '?')}: ", style="bold")
    if samples.get("kind") in IMAGE_HEADINGS:
        head.append(IMAGE_HEADINGS[samples["kind"]] + "\n")
    return head


Renderer = Callable[[dict[str, Any], int, "int | None", float], Text]
RENDERERS: dict[str, Renderer] = {}  # sample kind (the `kind` a task writes, TaskSpec.sample_kinds) -> its body


def renders(*kinds: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of these sample kinds: (samples, width, history index, least score) -> the body."""
    def register(fn: Renderer) -> Renderer:
        for kind in kinds:
            if kind in RENDERERS:
                raise ValueError(f"sample kind {kind!r} has two renderers")
            RENDERERS[kind] = fn
        return fn
    return register


@renders("images")
def _images(samples, width, index, threshold):
    return image_grid(samples.get("items", []), width)


@renders("points")
def _points(samples, width, index, threshold):
    return Text("decision boundary\n") + boundary(samples, width)


@renders("text")
def _text(samples, width, index, threshold):
    body = Text("generated text\n")
    for item in samples.get("items", []):
        body.append(item.get("prefix", ""), "bold cyan").append(item.get("continuation", "") + "\n\n")
    return body


@renders("translations")
def _translations(samples, width, index, threshold):
    body = Text("translations\n")
    for item in samples.get("items", []):
        body.append(f"{item['source']} → ", "bold").append(item["predicted"], "green")
        body.append(f"  ({item['target']}, bleu {item.get('bleu', 0):.2f})\n")
    return body


@renders("nadaraya-watson")
def _pooling(samples, width, index, threshold):
    curve = samples.get("curve", {})
    body = Text("attention pooling\n")
    body.append(f"learned w {samples.get('w', 0):.4f}: Gaussian width {samples.get('width', 0):.4f}\n", "bold green")
    body.append("   x    truth  fitted\n", "dim")
    xs = curve.get("x", [])
    for i in range(0, len(xs), max(1, len(xs) // 6)):
        body.append(f"{xs[i]:4.1f}  {curve['truth'][i]:6.3f}  {curve['predicted'][i]:6.3f}\n")
    return body


@renders("gan-points")
def _gan_points(samples, width, index, threshold):
    from d2ltui.tui.widgets.gan_view import scatter

    return Text("real and generated points\n") + scatter(samples, width)


@renders("gan-images")
def _gan_images(samples, width, index, threshold):
    from d2ltui.tui.widgets.gan_view import colour_grid

    return colour_grid(samples.get("items", []), width, samples.get("columns", 7))


@renders("rl-values")
def _rl_values(samples, width, index, threshold):
    from d2ltui.tui.widgets.rl_view import value_grid

    return Text("values and greedy policy\n") + value_grid(samples, index, width)


@renders("detections")
def _detections(samples, width, index, threshold):
    from d2ltui.tui.widgets.detections import render_detections

    return render_detections(samples, width, threshold)


@renders("linear-regression")
def _linear(samples, width, index, threshold):
    return Text("\n") + weights(samples)


@renders("predictions", "regression")
def _predictions(samples, width, index, threshold):
    rows = samples.get("predictions") or samples.get("items", [])
    return Text("predictions\n" + "".join(f"{r.get('predicted')}  (true {r.get('true')})\n" for r in rows))


def compact(samples: dict[str, Any], width: int) -> Text:
    """A kind no renderer knows (a task from another package): its JSON, compactly, cut to a few lines."""
    body = {k: v for k, v in samples.items() if k not in ("epoch", "kind")}
    text = json.dumps(body, separators=(",", ":"), default=str)
    lines = [text[i:i + width] for i in range(0, min(len(text), width * 12), width)]
    return Text(f"{samples.get('kind')}\n", "bold") + Text("\n".join(lines) + "\n", "dim")


def render(samples: dict[str, Any] | None, width: int, index: int | None = None, threshold: float = 0.5) -> Text:
    """The samples panel's content: the heading, then the body its kind's renderer draws (`index`: which
    kept history entry to show, None for the latest; `threshold`: detections' least score)."""
    if not samples:
        return Text("samples appear after the first epoch", style="dim")
    renderer = RENDERERS.get(samples.get("kind"))
    body = renderer(samples, width, index, threshold) if renderer else compact(samples, width)
    return heading(samples) + body


class SamplesView(Static):
    """Holds the latest samples and redraws them at the panel's width; `step` moves through their history
    (an RL run's iterations or episodes), which otherwise follows the latest; detections show above `threshold`."""

    index: int | None = None
    threshold = 0.5

    def show(self, samples: dict[str, Any] | None) -> None:
        self.samples = samples
        self.redraw()

    def redraw(self) -> None:
        width = max(16, self.size.width or 40)
        grid = next(iter(self.parent.query(PixelGrid)), None) if self.parent else None
        if grid is not None and grid.show(self.samples, width):  # real pixels below, the heading here
            self.update(heading(self.samples))
            return
        self.update(render(self.samples, width, self.index, self.threshold))

    def step(self, delta: int) -> None:
        """Show an earlier (negative) or later entry of the history; past either end sticks to it, and the
        last entry follows new ones again."""
        count = len((getattr(self, "samples", None) or {}).get("history") or [])
        if not count:
            return
        current = count - 1 if self.index is None else self.index
        target = max(0, min(count - 1, current + delta))
        self.index = None if target == count - 1 else target
        self.redraw()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if hasattr(self, "samples"):
            self.redraw()

    @property
    def kind(self) -> str | None:
        return (getattr(self, "samples", None) or {}).get("kind")

    def on_resize(self) -> None:
        if hasattr(self, "samples"):
            self.redraw()
