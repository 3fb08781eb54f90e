"""A live metric plot: series downsampled to about twice the plot width, optional smoothing."""

from __future__ import annotations

from textual.strip import Strip
from textual_plotext import PlotextPlot

from d2ltui.metrics import smooth


def downsample(xs: list[float], ys: list[float], points: int) -> tuple[list[float], list[float]]:
    """Bucket means so that at most `points` points remain (the last point kept exact)."""
    n = len(xs)
    if n <= points or points < 2:
        return xs, ys
    size = n / (points - 1)
    out_x, out_y = [], []
    for b in range(points - 1):
        lo, hi = int(b * size), max(int(b * size) + 1, int((b + 1) * size))
        out_x.append(sum(xs[lo:hi]) / (hi - lo))
        out_y.append(sum(ys[lo:hi]) / (hi - lo))
    return out_x + [xs[-1]], out_y + [ys[-1]]


class MetricPlot(PlotextPlot):
    """Holds named series; `redraw` builds the plot (call it at a few Hz at most)."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.smoothing = False
        self._version, self._cached_key, self._cached = 0, None, None

    def set_series(self, series: dict[str, tuple[list[float], list[float]]]) -> None:
        self.series = {k: v for k, v in series.items() if v[0]}

    @property
    def point_count(self) -> int:
        return sum(len(xs) for xs, _ in self.series.values())

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{self.title} (smoothed)" if self.smoothing else self.title)
        budget = max(8, 2 * (self.size.width or 40))
        for label, (xs, ys) in self.series.items():
            dx, dy = downsample(xs, ys, budget)  # bucket means in C-level sums: cheap for long runs
            dy = smooth(dy) if self.smoothing and len(dy) > 2 else dy
            plt.plot(dx, dy, label=label, marker="braille")
        if not self.series:
            plt.title(f"{self.title} (no data yet)")
        self._version += 1
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """A line of the built plot: built (and turned into strips) only after `redraw` or a resize."""
        key = (self._version, self.size, self.app.theme, self.theme)
        if key != self._cached_key:
            width, console = self.size.width, self.app.console
            lines = super().render().split("\n", allow_blank=True)  # plotext's ANSI text, as rich Text
            self._cached_key, self._cached = key, [
                Strip(list(line.render(console)), line.cell_len).crop_extend(0, width, None) for line in lines]
        if y < len(self._cached):
            return self._cached[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)
