"""Real pixels or half-blocks: the one chooser, the PIL image a samples grid makes, the pixel grid's widgets."""

from __future__ import annotations

import io

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual_image import renderable
from textual_image.widget._base import Image as BaseImage

from d2ltui.tui import pixels
from d2ltui.tui.widgets.pixel_grid import CELLS, PixelGrid
from d2ltui.tui.widgets.samples_view import SamplesView
from tui_pilot import pilot_test, until

RED, BLUE = "#ff0000", "#0000ff"
COLOUR = [[RED, BLUE, RED], [BLUE, RED, BLUE]]  # 3 wide, 2 high


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fresh(monkeypatch):
    """Nothing probed yet, no D2LTUI_PIXELS."""
    monkeypatch.setattr(pixels, "_probed", None)
    monkeypatch.delenv(pixels.ENV, raising=False)
    return monkeypatch


def test_half_blocks_until_a_terminal_says_otherwise(fresh):
    assert pixels.mode() == pixels.HALF_BLOCKS  # never probed: tests and run_test draw half-blocks
    fresh.setattr("sys.__stdout__", io.StringIO())
    assert pixels.probe() == pixels.HALF_BLOCKS == pixels.mode()  # not a terminal


def test_a_terminal_without_graphics_gets_half_blocks_and_one_with_them_pixels(fresh):
    fresh.setattr("sys.__stdout__", _Tty())
    fresh.setenv("TERM", "xterm-kitty")
    fresh.delenv("TMUX", raising=False)
    fresh.delenv("STY", raising=False)
    fresh.setattr(renderable, "Image", renderable.HalfcellImage)  # what textual-image found: no protocol
    assert pixels.probe() == pixels.HALF_BLOCKS
    for found in (renderable.TGPImage, renderable.SixelImage):
        fresh.setattr(pixels, "_probed", None)
        fresh.setattr(renderable, "Image", found)
        assert pixels.probe() == pixels.PIXELS == pixels.mode()


def test_only_terminals_that_say_they_draw_images_are_asked(fresh):
    """Queries cost an ordinary terminal ~0.1-0.2 s of start-up: only image-drawing ones (or =on) are asked."""
    fresh.setattr("sys.__stdout__", _Tty())
    fresh.setattr(renderable, "Image", renderable.TGPImage)  # what the queries would find
    for name in ("TMUX", "STY", "KITTY_WINDOW_ID", "TERM_PROGRAM"):
        fresh.delenv(name, raising=False)
    fresh.setenv("TERM", "xterm-256color")
    assert not pixels.worth_asking() and pixels.probe() == pixels.HALF_BLOCKS
    fresh.setenv(pixels.ENV, "on")
    assert pixels.worth_asking()
    fresh.setenv(pixels.ENV, "auto")
    fresh.setenv("TERM_PROGRAM", "WezTerm")
    assert pixels.worth_asking()
    fresh.setenv("TMUX", "/tmp/tmux-0/default,1,0")  # tmux passes no images by default
    assert not pixels.worth_asking()


@pytest.mark.parametrize("value", ["off", "OFF", "0"])
def test_forced_off_wins_over_a_graphics_terminal(fresh, value):
    fresh.setattr("sys.__stdout__", _Tty())
    fresh.setattr(renderable, "Image", renderable.TGPImage)
    fresh.setenv(pixels.ENV, value)
    assert pixels.probe() == pixels.HALF_BLOCKS == pixels.mode()
    fresh.setattr(pixels, "_probed", pixels.PIXELS)  # probed before the variable was set
    assert pixels.mode() == pixels.HALF_BLOCKS


def test_pil_image_keeps_the_grid_size_and_colours():
    image = pixels.pil_image(COLOUR)
    assert image.mode == "RGB" and image.size == (3, 2)
    assert image.getpixel((0, 0)) == (255, 0, 0) and image.getpixel((1, 0)) == (0, 0, 255)
    assert image.getpixel((0, 1)) == (0, 0, 255)
    grey = pixels.pil_image([[0.0, 0.5], [1.0, 2.0]])
    assert grey.getpixel((1, 0)) == (127, 127, 127) and grey.getpixel((1, 1)) == (255, 255, 255)
    rgb = pixels.pil_image([[[10, 20, 30], [300, -5, 0]]])  # dcgan items: [r, g, b] in 0..255
    assert rgb.size == (2, 1) and rgb.getpixel((1, 0)) == (255, 0, 0) and rgb.getpixel((0, 0)) == (10, 20, 30)


def test_image_widget_is_textual_image_sized_in_cells():
    widget = pixels.image_widget(COLOUR, 14)
    assert isinstance(widget, BaseImage)
    assert widget.image.size == (3, 2) and widget.image.getpixel((2, 1)) == (0, 0, 255)
    assert widget.styles.width.value == 14 and widget.styles.height.is_auto


SAMPLES = {"epoch": 2, "kind": "images", "items": [
    {"predicted": "ring", "true": "ring", "image": COLOUR}, {"predicted": "bar", "true": "star", "image": COLOUR},
    {"predicted": "dot", "true": "dot", "image": [[0.2, 0.8], [0.8, 0.2]]}]}


class _Panel(App):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield SamplesView(id="samples")
            yield PixelGrid()


async def _shown(samples):
    app = _Panel()
    async with app.run_test(size=(60, 30)) as pilot:
        app.query_one(SamplesView).show(samples)
        grid = app.query_one(PixelGrid)
        await pilot.pause()
        if grid.display:  # laid out in cells as the half-blocks were: CELLS wide, as high as the picture needs
            await until(pilot, lambda: all(w.size.height for w in grid.query(BaseImage)))
            assert {w.size.width for w in grid.query(BaseImage)} == {CELLS[samples["kind"]]}
        images = list(grid.query(BaseImage))
        return (str(app.query_one(SamplesView).render()), grid.display,
                [w.image.size for w in images], [str(s.render()) for s in grid.query("Static")])


@pilot_test
async def test_pixel_mode_draws_the_prediction_grid_with_textual_image(fresh):
    fresh.setattr(pixels, "_probed", pixels.PIXELS)
    head, shown, sizes, labels = await _shown(SAMPLES)
    assert head.strip() == "epoch 2: predicted/true"  # the half-blocks are gone, the heading stays
    assert shown and sizes == [(3, 2), (3, 2), (2, 2)]
    assert [label.strip() for label in labels] == ["ring/ring", "bar/star", "dot/dot"]
    gan = {"epoch": 1, "kind": "gan-images", "columns": 2, "items": [{"rgb": [[[0, 0, 0]] * 4] * 4}] * 3}
    head, shown, sizes, labels = await _shown(gan)
    assert shown and sizes == [(4, 4)] * 3 and labels == []


@pilot_test
async def test_half_block_mode_and_other_kinds_leave_the_pixel_grid_hidden(fresh):
    head, shown, sizes, _ = await _shown(SAMPLES)  # not probed: half-blocks
    assert "▀" in head and "bar/star" in head and not shown
    fresh.setattr(pixels, "_probed", pixels.PIXELS)
    head, shown, _, _ = await _shown({"epoch": 1, "kind": "text", "items": [{"prefix": "the", "continuation": " time"}]})
    assert "generated text" in head and not shown
