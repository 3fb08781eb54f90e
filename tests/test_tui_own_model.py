"""The catalog's "Open a model…": a path field with completion, the model in the inspector, the last ones remembered."""

from __future__ import annotations

import asyncio

from own_models import CNN
from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import OPEN, Catalog
from d2ltui.tui.widgets.open_model import OpenModelScreen, PathSuggester, recent_models, remember_model


def test_path_suggester_completes_folders_and_python_files(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.py").write_text(CNN)
    (tmp_path / "models" / "notes.txt").write_text("")
    suggest = PathSuggester().get_suggestion
    assert asyncio.run(suggest(f"{tmp_path}/mo")) == f"{tmp_path}/models/"
    assert asyncio.run(suggest(f"{tmp_path}/models/n")) == f"{tmp_path}/models/net.py:"
    assert asyncio.run(suggest(f"{tmp_path}/models/x")) is None
    assert asyncio.run(suggest(f"{tmp_path}/models/net.py:N")) is None


def test_recent_models_keep_the_last_eight_newest_first():
    for i in range(10):
        remember_model(f"m{i}.py:Net")
    remember_model("m5.py:Net")
    assert recent_models() == ["m5.py:Net", "m9.py:Net", "m8.py:Net", "m7.py:Net", "m6.py:Net", "m4.py:Net",
                               "m3.py:Net", "m2.py:Net"]


@pilot_test
async def test_open_a_model_file_from_the_catalog(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(CNN)
    monkeypatch.chdir(tmp_path)
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        catalog = app.screen.query_one(Catalog)
        catalog.move_cursor(next(n for n in catalog.own.children if n.data == OPEN))
        catalog.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OpenModelScreen))
        field = app.screen.query_one("#model-ref")
        await pilot.press(*"ne")
        await until(pilot, lambda: field._suggestion == "net.py:")  # the suggester completes the file
        await pilot.press("right", *"Net", "enter")
        table = await settle_summary(pilot)
        ref = f"{tmp_path}/net.py:Net"
        assert table.inspection.model == ref and table.inspection.totals["params"] == "1,418"
        assert recent_models() == [ref] and [n.data for n in catalog.own.children] == [OPEN, ref]
        catalog.move_cursor(catalog.own.children[0])  # open again: a bad reference is a notice, not a crash
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OpenModelScreen))
        await pilot.press(*"nosuch.py:Net", "enter")
        await until(pilot, lambda: not isinstance(app.screen, OpenModelScreen) and len(app._notifications))
        assert recent_models() == [ref] and any("nosuch.py: no such file" in n.message for n in app._notifications)
