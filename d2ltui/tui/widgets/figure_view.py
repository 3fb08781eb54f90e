"""A lab's Figure as widgets: heatmaps, plotext curves, number grids, tables and boxed images, updated in place."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Grid as GridContainer
from textual.widgets import Static

from d2ltui.labs.figure import Boxes, Curves, Figure, Grid, Heatmap, Panel
from d2ltui.labs.text import grid_lines, table_lines
from d2ltui.tui.widgets.boxes_view import BoxesView
from d2ltui.tui.widgets.heatmap import HeatmapView
from d2ltui.tui.widgets.metric_plot import MetricPlot


class CurvesPlot(MetricPlot):
    """A Curves panel: its series as lines, its points as a scatter."""

    def show(self, panel: Curves) -> None:
        self.panel = panel
        self.redraw()

    def redraw(self) -> None:
        plt, panel = self.plt, getattr(self, "panel", None)
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        if panel is not None:
            for name, ys in panel.series.items():
                keep = [(x, y) for x, y in zip(panel.x, ys) if y is not None]
                plt.plot([x for x, _ in keep], [y for _, y in keep], label=name, marker="braille")
            for name, pts in panel.points.items():
                plt.scatter(pts["x"], pts["y"], label=name, marker="dot")
            for name, path in panel.paths.items():
                plt.plot(path["x"], path["y"], label=name, marker="braille")
            plt.xlabel(panel.xlabel)
        self._version += 1
        self.refresh()


class PanelStatic(Static):
    """A Grid or Table panel as the aligned text lines the CLI prints."""

    def show(self, panel: Panel) -> None:
        lines = grid_lines(panel) if isinstance(panel, Grid) else table_lines(panel)
        text = Text(panel.title + "\n", style="bold", no_wrap=True, overflow="crop")
        text.append("\n".join(lines), style="")
        self.update(text)


def widget_for(panel: Panel):
    if isinstance(panel, Heatmap):
        return HeatmapView(panel)
    if isinstance(panel, Boxes):
        return BoxesView(panel)
    if isinstance(panel, Curves):
        plot = CurvesPlot(panel.title)
        plot.panel = panel
        return plot
    widget = PanelStatic()
    widget.show(panel)
    return widget


class FigureView(GridContainer):
    """The panels in a two-column grid; a figure with the same panels updates them without remounting."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.figure: Figure | None = None

    async def show(self, figure: Figure) -> None:
        same = self.figure is not None and [(p.kind, p.title) for p in self.figure.panels] == \
            [(p.kind, p.title) for p in figure.panels]
        self.figure = figure
        if same:
            for widget, panel in zip(self.children, figure.panels):
                widget.show(panel)
            return
        await self.remove_children()
        widgets = [widget_for(p) for p in figure.panels]
        await self.mount_all(widgets)
        for widget in widgets:
            if isinstance(widget, CurvesPlot):
                widget.redraw()
