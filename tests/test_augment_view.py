"""Images as they are (colour thumbnails, half-blocks) and the augmentation preview: CLI and TUI (Pilot, SVG)."""

from __future__ import annotations

import json

import torch
from fault_helpers import cli
from tui_pilot import pilot_test, settle_summary, until

from d2ltui.data.thumbnails import thumbnails
from d2ltui.tui.app import create_app
from d2ltui.render.pictures import half_blocks


def test_colour_images_become_colour_cells_and_grey_stays_grey():
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 0, 0] = 1.0  # red top-left
    img[0, 2, 1, 1] = 0.5  # half blue bottom-right
    assert thumbnails(img, stretch=False) == [[["#ff0000", "#000000"], ["#000000", "#000080"]]]
    assert thumbnails(torch.full((1, 1, 2, 2), 0.25), stretch=False) == [[[0.25, 0.25], [0.25, 0.25]]]
    big = thumbnails(torch.rand(2, 3, 96, 96))
    assert len(big[0]) == 28 and all(isinstance(c, str) and len(c) == 7 for c in big[0][0])
    line = half_blocks([["#ff0000", "#00ff00"], ["#0000ff", "#ffffff"]], 2)[0]
    styles = [span.style for span in line.spans]
    assert str(styles[0].color.name) == "#ff0000" and str(styles[0].bgcolor.name) == "#0000ff"
    assert str(styles[1].color.name) == "#00ff00" and str(styles[1].bgcolor.name) == "#ffffff"


def test_augment_cli_shows_one_image_and_eight_draws_per_transform():
    code, out, err = cli("augment", "shapes", "--augment", "flip,vflip,crop,flip+jitter+crop", "--json")
    assert code == 0, err
    preview = json.loads(out)
    assert list(preview["grids"]) == ["flip", "vflip", "crop", "flip+jitter+crop"]
    original = preview["original"]
    for name, axis in (("flip", 1), ("vflip", 0)):
        grid = preview["grids"][name]
        assert len(grid) == 8
        mirrored = [row[::-1] for row in original] if axis == 1 else original[::-1]
        kinds = {("same" if g == original else "mirror" if g == mirrored else "other") for g in grid}
        assert kinds == {"same", "mirror"}, name  # each image drew its own flip, and nothing else happened
    assert sum(g != original for g in preview["grids"]["crop"]) == 8
    again = json.loads(cli("augment", "shapes", "--augment", "crop", "--json")[1])
    assert again["grids"]["crop"] == preview["grids"]["crop"]  # seeded
    other = json.loads(cli("augment", "shapes", "--augment", "crop", "--seed", "1", "--json")[1])
    assert other["grids"]["crop"] != preview["grids"]["crop"]
    colour = json.loads(cli("augment", "shapes", "--set", "data.channels=3", "--augment", "hue", "--json")[1])
    assert isinstance(colour["original"][0][0], str)


def test_augment_cli_draws_pictures_and_refuses_bad_input():
    code, out, err = cli("augment", "shapes", "--augment", "flip")
    assert code == 0 and out.startswith("shapes: ") and "original" in out and "flip" in out
    assert out.count("▀") > 8 * 8 * 4
    code, out, err = cli("augment", "shapes", "--augment", "rotate")
    assert code == 2 and "--augment: unknown 'rotate'" in err and "Traceback" not in err
    code, out, err = cli("augment", "moons")
    assert code == 2 and "moons" in err


async def _open_preview(pilot) -> None:
    await settle_summary(pilot)
    await pilot.press("t")
    await pilot.pause(0.3)
    panel = pilot.app.screen.query_one("#preview-augment")
    augment = pilot.app.screen.query_one("#cfg-data-augment")
    augment.value = "flip,crop"
    await pilot.pause(0.1)
    panel.press()
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "AugmentScreen")
    await until(pilot, lambda: not [w for w in pilot.app.workers if w.name == "augment-preview" and not w.is_finished])
    await pilot.pause(0.2)


@pilot_test
async def test_training_panel_opens_the_augmentation_preview():
    app = create_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await _open_preview(pilot)
        body = str(pilot.app.screen.query_one("#augment-body").content)
        assert "original" in body and "flip\n" in body and "crop\n" in body and "flip+crop\n" in body
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert type(pilot.app.screen).__name__ != "AugmentScreen"


def test_augment_preview_snapshot(snap_compare):
    assert snap_compare(create_app(), terminal_size=(100, 40), run_before=_open_preview)
