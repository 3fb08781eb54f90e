"""Fast checks of the dashboard's drawing helpers: downsampling, smoothing, samples of every kind."""

from __future__ import annotations

from d2ltui.tui.runlog import series
from d2ltui.tui.widgets.metric_plot import downsample, smooth
from d2ltui.render.pictures import half_blocks
from d2ltui.tui.widgets.samples_view import render


def test_downsample_keeps_at_most_the_budget_and_the_last_point():
    xs = [float(i) for i in range(10_000)]
    ys = [float(i % 7) for i in xs]
    dx, dy = downsample(xs, ys, 160)
    assert len(dx) == len(dy) == 160
    assert dx[-1] == xs[-1] and dy[-1] == ys[-1]
    assert all(a < b for a, b in zip(dx, dx[1:]))
    assert abs(sum(dy[:-1]) / len(dy[:-1]) - 3.0) < 0.05  # bucket means keep the level
    assert downsample(xs[:50], ys[:50], 160) == (xs[:50], ys[:50])


def test_smoothing_is_a_debiased_moving_average():
    assert all(abs(v - 5.0) < 1e-9 for v in smooth([5.0, 5.0, 5.0]))
    noisy = [1.0, 3.0] * 50
    smoothed = smooth(noisy)
    assert max(smoothed[20:]) - min(smoothed[20:]) < 0.5 < max(noisy) - min(noisy)


def test_series_from_records():
    records = [{"step": 1, "split": "train", "loss": 2.0, "ppl": 7.4}, {"step": 2, "split": "val", "loss": 1.5, "bleu": 0.2}]
    assert series(records, "train", "loss") == ([1.0], [2.0])
    assert series(records, "val", "loss") == ([2.0], [1.5])


def test_image_grid_uses_half_blocks_and_marks_mistakes():
    image = [[(r + c) % 2 for c in range(28)] for r in range(28)]
    assert len(half_blocks(image, 14)) == 7 and all(len(line) == 14 for line in half_blocks(image, 14))
    text = render({"epoch": 3, "kind": "images", "items": [
        {"predicted": "ring", "true": "ring", "image": image}, {"predicted": "bar", "true": "star", "image": image}]}, 40)
    assert "epoch 3" in text.plain and "ring/ring" in text.plain and "bar/star" in text.plain
    styles = {str(span.style) for span in text.spans}
    assert "green" in styles and "bold red" in styles


def test_decision_boundary_text_translations_and_weights():
    boundary = render({"epoch": 1, "kind": "points", "items": [],
                       "grid": {"x": [0.0, 1.0], "y": [0.0, 1.0], "classes": [[0, 1], [1, 0]]},
                       "points": [[0.0, 0.0, 1], [1.0, 1.0, 0]]}, 20)
    assert "decision boundary" in boundary.plain and boundary.plain.count("●") == 2
    text = render({"epoch": 2, "kind": "text", "items": [{"prefix": "the ", "continuation": "time"}]}, 40)
    assert "the time" in text.plain
    pairs = render({"epoch": 2, "kind": "translations",
                    "items": [{"source": "abc", "predicted": "cba", "target": "cba", "bleu": 1.0}]}, 40)
    assert "abc → cba" in pairs.plain and "bleu 1.00" in pairs.plain
    weights = render({"epoch": 2, "kind": "linear-regression", "learned": {"w": [2.0, -3.4], "b": 4.2},
                      "true": {"w": [2.0, -3.4], "b": 4.2}, "analytic": {"w": [2.0, -3.4], "b": 4.2}}, 40)
    assert all(k in weights.plain for k in ("learned", "true", "analytic", "-3.4000", "4.2000"))
    assert "after the first epoch" in render(None, 40).plain


def test_paint_puts_two_pixel_rows_in_a_line_and_black_below_an_odd_last_row():
    from rich.color import Color

    from d2ltui.render.pictures import paint

    lines = paint(3, 2, lambda r, c: Color.from_rgb(10 * r, c, 0))
    assert [line.plain for line in lines] == ["▀▀", "▀▀"]
    top, bottom = lines[0].spans[1].style, lines[1].spans[0].style
    assert (top.color.triplet, top.bgcolor.triplet) == ((0, 1, 0), (10, 1, 0))
    assert (bottom.color.triplet, bottom.bgcolor.triplet) == ((20, 0, 0), (0, 0, 0))
