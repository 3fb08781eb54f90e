"""Attention heatmaps from samples.json or a predict answer, one map at a time, drawn by HeatmapView.

Maps step with `[` and `]` (sample, layer, head, in the order the engine wrote them). A ViT's
class-token maps are drawn over the image; every other map is the grid of coloured cells.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from d2ltui.tui.widgets.heatmap import HeatmapView, as_panel

MAX_LINES = 24  # a long map (e.g. 50 queries) is drawn as half-blocks in this many lines


class AttentionView(HeatmapView):
    """Shows one of a list of heatmaps; `[`/`]` (the screen's keys) step through them."""

    DEFAULT_CSS = "AttentionView { height: auto; min-height: 3; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.maps: list[dict[str, Any]] = []
        self.images: list[Any] = []
        self.index = 0
        self.heading = ""

    def show(self, attention: dict[str, Any] | list | None, images: list[Any] | None = None,  # type: ignore[override]
             heading: str = "") -> None:
        """`attention`: samples.json's {"maps": [...], "grid": [rows, cols]} (grid for a ViT), or a list of maps."""
        if isinstance(attention, list):
            attention = {"maps": attention}
        attention = attention or {}
        maps = attention.get("maps") or []
        if len(maps) != len(self.maps):
            self.index = 0
        self.maps, self.grid, self.images, self.heading = maps, attention.get("grid"), images or [], heading
        self.display = bool(maps)
        self._select()

    def step(self, delta: int) -> None:
        if self.maps:
            self.index = (self.index + delta) % len(self.maps)
            self._select()

    def _select(self) -> None:
        heat = self.current
        self.panel = as_panel(heat) if heat else None
        sample = heat.get("sample", 0) if heat else 0
        self.image = self.images[sample] if sample < len(self.images) else None
        self.refresh(layout=True)

    @property
    def current(self) -> dict[str, Any] | None:
        return self.maps[self.index] if self.maps else None

    def title(self) -> str:
        return f"{self.heading}{self.panel.title if self.panel else ''}  [{self.index + 1}/{len(self.maps)}, [ ] step]"

    def body_height(self) -> int:
        panel = self.panel
        return min(len(panel.rows) + 2, MAX_LINES) if panel else 2  # the key header and the axis line

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.render().plain.splitlines()) if self.maps else 1

    def render(self) -> Text:
        return super().render() if self.maps else Text("")
