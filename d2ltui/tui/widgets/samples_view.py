"""What the model does, drawn in the terminal from samples.json: image grids, boundaries, text, weights."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from d2ltui.render.pictures import half_blocks, side_by_side  # noqa: F401  (re-exported for the widgets)
from d2ltui.tui.widgets.pixel_grid import PixelGrid, label

PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
           "#fabebe", "#008080")


def image_grid(items: list[dict[str, Any]], width: int, cell: int = 14) -> Text:
    per_row = max(1, width // (cell + 1))
    out = Text()
    for start in range(0, len(items), per_row):
        group = items[start:start + per_row]
        blocks = [half_blocks(item.get("image") or [[0.0]], cell) for item in group]
        for line in range(max(len(b) for b in blocks)):
            for block in blocks:
                out.append_text(block[line] if line < len(block) else Text(" " * cell))
                out.append(" ")
            out.append("\n")
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


def render(samples: dict[str, Any] | None, width: int, index: int | None = None, threshold: float = 0.5) -> Text:
    """The samples panel's content for any kind the engine writes (`index`: which kept history entry to show,
    None for the latest; `threshold`: detections' least score)."""
    if not samples:
        return Text("samples appear after the first epoch", style="dim")
    kind, items = samples.get("kind"), samples.get("items", [])
    head = heading(samples)
    if kind == "images":
        return head + image_grid(items, width)
    if kind == "points":
        return head.append("decision boundary\n") + boundary(samples, width)
    if kind == "text":
        body = Text()
        for item in items:
            body.append(item.get("prefix", ""), "bold cyan").append(item.get("continuation", "") + "\n\n")
        return head.append("generated text\n") + body
    if kind == "translations":
        body = Text()
        for item in items:
            body.append(f"{item['source']} → ", "bold").append(item["predicted"], "green")
            body.append(f"  ({item['target']}, bleu {item.get('bleu', 0):.2f})\n")
        return head.append("translations\n") + body
    if kind == "nadaraya-watson":
        curve = samples.get("curve", {})
        body = Text(f"learned w {samples.get('w', 0):.4f}: Gaussian width {samples.get('width', 0):.4f}\n", "bold green")
        body.append("   x    truth  fitted\n", "dim")
        xs = curve.get("x", [])
        for i in range(0, len(xs), max(1, len(xs) // 6)):
            body.append(f"{xs[i]:4.1f}  {curve['truth'][i]:6.3f}  {curve['predicted'][i]:6.3f}\n")
        return head.append("attention pooling\n") + body
    if kind == "gan-points":
        from d2ltui.tui.widgets.gan_view import scatter

        return head.append("real and generated points\n") + scatter(samples, width)
    if kind == "gan-images":
        from d2ltui.tui.widgets.gan_view import colour_grid

        return head + colour_grid(items, width, samples.get("columns", 7))
    if kind == "rl-values":
        from d2ltui.tui.widgets.rl_view import value_grid

        return head.append("values and greedy policy\n") + value_grid(samples, index, width)
    if kind == "detections":
        from d2ltui.tui.widgets.detections import render_detections

        return head + render_detections(samples, width, threshold)
    if kind == "linear-regression":
        return head.append("\n") + weights(samples)
    rows = samples.get("predictions") or items
    body = Text("".join(f"{r.get('predicted')}  (true {r.get('true')})\n" for r in rows))
    return head.append("predictions\n") + body


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
