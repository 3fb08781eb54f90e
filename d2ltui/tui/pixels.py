"""The one choice between real pixels (textual-image: Kitty graphics or Sixel) and half-block cells."""

from __future__ import annotations

import os
import sys
from typing import Any

from d2ltui.render.pictures import hex_colour, rgb  # noqa: F401  (the one colour reading; widgets import it from here)

ENV = "D2LTUI_PIXELS"  # off: half-blocks; auto (default): ask terminals that say they draw images; on: ask any
# Terminals whose environment says they draw images (the queries cost others ~0.1-0.2 s of start-up)
GRAPHICS_TERMS = ("kitty", "foot", "mlterm", "wezterm", "ghostty", "contour")
GRAPHICS_PROGRAMS = ("wezterm", "iterm.app", "ghostty", "konsole", "mintty", "contour")
PIXELS, HALF_BLOCKS = "pixels", "half-blocks"
_probed: str | None = None


def forced_off() -> bool:
    return os.environ.get(ENV, "auto").strip().lower() in ("off", "0", "no", "false", "half-blocks")


def worth_asking() -> bool:
    """Whether to query the terminal: D2LTUI_PIXELS=on, or a terminal whose environment names an image-drawing
    one (not inside tmux or screen, which pass no images by default)."""
    if os.environ.get(ENV, "auto").strip().lower() in ("on", "1", "yes", "true", "pixels"):
        return True
    if os.environ.get("TMUX") or os.environ.get("STY"):
        return False
    term, program = os.environ.get("TERM", "").lower(), os.environ.get("TERM_PROGRAM", "").lower()
    return bool(os.environ.get("KITTY_WINDOW_ID") or any(t in term for t in GRAPHICS_TERMS)
                or program in GRAPHICS_PROGRAMS)


def probe() -> str:
    """Ask the terminal once, before Textual starts (it then owns stdin): pixels when it speaks the Kitty
    graphics protocol or Sixel, else half-blocks. Importing textual-image's renderables sends the queries."""
    global _probed
    if _probed is None:
        _probed = HALF_BLOCKS
        if not forced_off() and worth_asking() and sys.__stdout__ is not None and sys.__stdout__.isatty():
            try:
                from textual_image import renderable
                import textual_image.widget  # noqa: F401  (caches the cell size while the terminal still answers)
            except Exception:  # no library or a terminal that misbehaves: stay with half-blocks
                return _probed
            if renderable.Image in (renderable.TGPImage, renderable.SixelImage):
                _probed = PIXELS
    return _probed


def mode() -> str:
    """What the views draw: the probe's answer, half-blocks when nothing probed (tests, `run_test`) or when
    D2LTUI_PIXELS=off."""
    return HALF_BLOCKS if forced_off() or _probed is None else _probed




def pil_image(grid: list[list[Any]]):
    """A samples grid (rows of grey values in [0, 1], '#rrggbb' strings or [r, g, b] lists) as a PIL RGB
    image of the same size."""
    from PIL import Image

    h, w = len(grid), len(grid[0]) if grid else 0
    image = Image.new("RGB", (max(1, w), max(1, h)))
    image.putdata([rgb(cell) for row in grid for cell in row] or [(0, 0, 0)])
    return image


def image_widget(grid: list[list[Any]], cells: int):
    """textual-image's widget (the protocol the probe found) showing `grid`, `cells` terminal cells wide."""
    from textual_image.widget import Image

    widget = Image(pil_image(grid))
    widget.styles.width = cells
    widget.styles.height = "auto"
    return widget
