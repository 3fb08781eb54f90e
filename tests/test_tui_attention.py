"""The dashboard's attention heatmaps and its own-input field, tested as a person uses them (Pilot, snapshots)."""

from __future__ import annotations

import json
import os

import pytest
from test_tui_snapshots import _pin_status
from tui_pilot import pilot_test, until, write_run

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import CHECKPOINT, STATUS, RunDir
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.ask_box import AskBox
from d2ltui.tui.widgets.attention_view import AttentionView


def distribution(n_rows: int, n_cols: int, causal: bool = False, shift: int = 0) -> list[list[float]]:
    """Rows of weights that sum to 1 (rounded to 3 places, the last absorbing the rounding)."""
    rows = []
    for r in range(n_rows):
        raw = [0.0 if causal and c > r else 1.0 + ((r + c + shift) % 4) ** 2 for c in range(n_cols)]
        row = [round(v / sum(raw), 3) for v in raw]
        last = max(i for i, v in enumerate(raw) if v)
        row[last] = round(1 - sum(row[:last]) - sum(row[last + 1:]), 3)
        rows.append(row)
    return rows


def transformer_samples() -> dict:
    src, dec, out = ["s", "t", "a", "r", "<eos>"], ["<bos>", "r", "a", "t", "s"], ["r", "a", "t", "s", "<eos>"]
    maps = []
    for n in range(2):
        for group, rows, cols, causal in (("encoder self-attention", src, src, False),
                                          ("decoder self-attention", dec, dec, True),
                                          ("decoder cross-attention", out, src, False)):
            for layer in range(2):
                for head in range(2):
                    maps.append({"title": f"sample {n + 1}: {group}, layer {layer + 1}, head {head + 1}",
                                 "matrix": distribution(len(rows), len(cols), causal, layer + head + n),
                                 "rows": rows, "cols": cols,
                                 "masked": [[r, c] for r in range(5) for c in range(r + 1, 5)] if causal else [],
                                 "xlabel": "keys", "ylabel": "queries", "sample": n, "group": group,
                                 "layer": layer, "head": head})
    return {"epoch": 1, "kind": "translations",
            "items": [{"source": "star", "predicted": "rats", "target": "rats", "bleu": 1.0},
                      {"source": "god", "predicted": "dgo", "target": "dog", "bleu": 0.2}],
            "attention": {"maps": maps}}


def vit_samples() -> dict:
    image = [[((r // 4 + c // 4) % 2) * 0.8 + 0.1 for c in range(16)] for r in range(16)]
    maps = [{"title": f"image 1: class token, layer {layer + 1}, head 1", "matrix": distribution(1, 17, shift=layer),
             "rows": ["cls"], "cols": ["cls", *(f"p{i}" for i in range(16))], "masked": [], "sample": 0,
             "group": "class token attention", "layer": layer, "head": 0} for layer in range(2)]
    return {"epoch": 1, "kind": "images", "items": [{"predicted": "circle", "true": "circle", "confidence": 0.9,
                                                     "image": image}],
            "attention": {"grid": [4, 4], "maps": maps}}


def nw_samples() -> dict:
    xs = [i / 10 for i in range(50)]
    keys = [f"{i / 10:.2f}" for i in range(0, 50, 1)]
    return {"epoch": 5, "kind": "nadaraya-watson", "w": 4.2, "width": 0.238, "predictions": [],
            "curve": {"x": xs, "truth": xs, "predicted": xs},
            "attention": {"maps": [{"title": "test queries x training keys, width 0.238",
                                    "matrix": distribution(50, 50), "rows": [f"{x:.1f}" for x in xs], "cols": keys,
                                    "masked": [], "sample": 0, "group": "attention pooling", "layer": 0,
                                    "head": 0}]}}


def bahdanau_samples() -> dict:
    src, out = ["i", "lost", ".", "<eos>"], ["j'ai", "perdu", ".", "<eos>"]
    maps = [{"title": f"sample {n + 1}: decoder steps x source tokens", "matrix": distribution(4, 4, shift=n),
             "rows": out, "cols": src, "masked": [], "xlabel": "keys", "ylabel": "queries", "sample": n,
             "group": "decoder attention", "layer": 0, "head": 0} for n in range(2)]
    return {"epoch": 1, "kind": "translations",
            "items": [{"source": "i lost .", "predicted": "j'ai perdu .", "target": "j'ai perdu .", "bleu": 1.0},
                      {"source": "go .", "predicted": "va !", "target": "va !", "bleu": 1.0}],
            "attention": {"maps": maps}}


SAMPLES = {"transformer": ("transformer", "reverse", transformer_samples),
           "seq2seq-attention": ("seq2seq-attention", "fra-eng", bahdanau_samples),
           "vit": ("vit", "shapes", vit_samples), "nadaraya-watson": ("nadaraya-watson", "kernel-regression",
                                                                      nw_samples)}


@pytest.mark.parametrize("kind, size", [("transformer", (80, 24)), ("transformer", (120, 40)), ("vit", (120, 40)),
                                        ("nadaraya-watson", (80, 24)), ("nadaraya-watson", (120, 40)),
                                        ("seq2seq-attention", (80, 24)), ("seq2seq-attention", (120, 40)),
                                        ("vit", (80, 24))])
def test_heatmap_snapshots(snap_compare, tmp_path, kind, size):
    model, data, make = SAMPLES[kind]
    _pin_status(write_run(tmp_path / "runs", "run-a", model=model, data=data, samples=make()))

    async def ready(pilot):
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen")
        await until(pilot, lambda: pilot.app.screen.query_one(AttentionView).maps)
        if kind == "transformer":
            await pilot.press("]", "]", "]", "]", "]")  # to sample 1's decoder self-attention, layer 1, head 2
        await pilot.pause(0.8)

    assert snap_compare(create_app(runs_dir=tmp_path / "runs", attach="run-a"), terminal_size=size,
                        run_before=ready)


@pilot_test
async def test_keys_step_through_layers_and_heads(tmp_path):
    write_run(tmp_path / "runs", "run-a", model="transformer", data="reverse", samples=transformer_samples())
    app = create_app(runs_dir=tmp_path / "runs", attach="run-a")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        view = app.screen.query_one(AttentionView)
        await until(pilot, lambda: len(view.maps) == 24)
        assert "encoder self-attention, layer 1, head 1" in shown(view)
        await pilot.press("]")
        assert "layer 1, head 2" in shown(view) and "[2/24" in shown(view)
        await pilot.press("[", "[")
        assert "sample 2: decoder cross-attention, layer 2, head 2" in shown(view)
        for _ in range(5):
            await pilot.press("]")
        assert "sample 1: decoder self-attention, layer 1, head 1" in shown(view)
        lines = str(view.render()).splitlines()
        header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["<bos>", "r"])
        first = lines[header + 1]  # the <bos> query's row
        assert "1.00" in first and "0.00" not in first and first.count("·0") == 4  # masked: ·0 on slate (the CLI's mark)
        assert first.split()[2:] == ["·0"] * 4


def shown(view: AttentionView) -> str:
    return " ".join(str(view.render()).split())


def train_tiny(root, run_id: str) -> RunDir:
    cfg = from_dict({"model": {"name": "transformer", "num_hiddens": 8, "ffn_num_hiddens": 16, "num_heads": 2,
                               "num_blks": 1},
                     "data": {"name": "reverse", "num_train": 32, "num_val": 4, "batch_size": 16, "num_steps": 8},
                     "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1}})
    run = RunWriter.create(root, dump_toml(cfg), run_id)
    assert fit(cfg, run).state == "finished"
    return run


@pilot_test
async def test_own_input_is_answered_from_the_checkpoint_without_touching_the_run(tmp_path, monkeypatch):
    import d2ltui.tui.screens.dashboard as dashboard

    run = train_tiny(tmp_path / "runs", "tiny")
    # pretend the run is still live: a running status owned by this (live) process
    status = json.loads((run.path / STATUS).read_text())
    (run.path / STATUS).write_text(json.dumps({**status, "state": "running", "pid": os.getpid()}))
    before = {name: (run.path / name).stat().st_mtime_ns for name in (CHECKPOINT, STATUS, "metrics.jsonl")}
    signals = []
    monkeypatch.setattr(dashboard, "signal_run", lambda path, intent: signals.append(intent) or "sent")
    app = create_app(runs_dir=tmp_path / "runs", attach="tiny")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        box = app.screen.query_one(AskBox)
        await pilot.press("slash")
        assert app.focused.id == "ask"
        await pilot.press(*"ab c", "enter")  # a space typed here is text, not pause
        await until(pilot, lambda: box.answer is not None, timeout=60)
        assert box.answer["task"] == "seq2seq" and box.answer["unknown"] == [" "]
        view = app.screen.query_one(AttentionView)
        assert view.heading == "your input: " and view.maps and view.maps[0]["cols"][-1] == "<eos>"
        answer_text = str(box.query_one("#answer").render())
        assert "ab c =>" in answer_text and "<unk>" in answer_text
        await pilot.press("ctrl+a", "ctrl+k", "enter")  # empty input: one line, no crash
        await until(pilot, lambda: "empty" in str(box.query_one("#answer").render()), timeout=30)
        assert box.answer["input"] == "ab c"  # the last good answer stays
    assert signals == []
    assert before == {name: (run.path / name).stat().st_mtime_ns for name in before}


def test_one_renderer_serves_labs_and_dashboard_with_masked_cells_on_slate_in_every_mode():
    from d2ltui.labs.figure import Heatmap
    from d2ltui.tui.widgets.heatmap import MASKED_BG, HeatmapView, as_panel, grid_text

    assert issubclass(AttentionView, HeatmapView)
    big = as_panel(transformer_samples()["attention"]["maps"][4])  # a dict from samples.json becomes a panel
    assert isinstance(big, Heatmap) and big.masked
    n = 40
    causal = Heatmap("causal", distribution(n, n, causal=True), [str(r) for r in range(n)], [str(c) for c in range(n)],
                     masked=[[r, c] for r in range(n) for c in range(r + 1, n)], xlabel="keys")
    for width, height in ((50, 12), (200, 60)):  # half-blocks (40 queries in 10 lines), then one line a query
        text = grid_text(causal, width, height)
        lines = text.plain.splitlines()
        assert len(lines) <= height
        slate = [s for s in text.spans if not isinstance(s.style, str) and MASKED_BG in (s.style.bgcolor, s.style.color)]
        assert slate, "masked cells are drawn on slate"
        # the first line's last cell covers queries 0 (and 1 below it): masked in both, slate in both halves
        if width == 50:
            first = text.split("\n")[0]
            last = max(first.spans, key=lambda s: s.start).style
            assert "▀" in lines[0] and (last.color, last.bgcolor) == (MASKED_BG, MASKED_BG)
    small = grid_text(as_panel(transformer_samples()["attention"]["maps"][4]), 80, 10).plain.splitlines()
    assert small[0].split() == ["<bos>", "r", "a", "t", "s"] and small[1].split()[1:] == ["1.000"] + ["·0"] * 4


@pilot_test
async def test_the_inspector_shows_attention_weight_shapes_in_their_own_column():
    from d2ltui.tui.widgets.catalog import Catalog
    from d2ltui.tui.widgets.layer_table import ATTENTION, COLUMNS
    from tui_pilot import settle_summary

    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await settle_summary(pilot)
        grid = table.query_one("#layer-rows")
        assert tuple(str(c.label) for c in grid.columns.values()) == COLUMNS  # no attention layer: no column
        app.screen.query_one(Catalog).select_model("transformer")
        table = await settle_summary(pilot)
        await until(pilot, lambda: table.inspection and table.inspection.model == "transformer")
        labels = [str(c.label) for c in grid.columns.values()]
        assert labels[:3] == ["layer", "type", ATTENTION]
        cells = [grid.get_row_at(i) for i in range(grid.row_count)]
        shapes = {name.strip(): (kind, shape) for name, kind, shape, *_ in cells}
        # default knobs: 4 heads, 10 queries and 10 keys in each of the 2 encoder and 2 x 2 decoder attentions
        attention = {"encoder.blks.0.attention", "encoder.blks.1.attention", "decoder.blks.0.attention1",
                     "decoder.blks.0.attention2", "decoder.blks.1.attention1", "decoder.blks.1.attention2"}
        assert {n for n, (_, s) in shapes.items() if s} == attention
        assert all(shapes[n] == ("MultiHeadAttention", "1x4x10x10") for n in attention)
        assert shapes["encoder"] == ("TransformerEncoder", "")
        assert [c[0] for c in cells][:2] == ["encoder", "  encoder.blks.0.attention"]  # under their block
        app.screen.query_one(Catalog).select_model("lenet")
        table = await settle_summary(pilot)
        await until(pilot, lambda: table.inspection.model == "lenet")
        assert tuple(str(c.label) for c in grid.columns.values()) == COLUMNS


@pytest.mark.parametrize("model, rows", [
    ("seq2seq-attention", {"decoder.attention": "1x1x1x9"}),  # Bahdanau: one decoder step over 9 source tokens
    ("vit", {"blks.0.attention": "1x8x37x37", "blks.1.attention": "1x8x37x37"}),  # 36 patches and the class token
])
def test_inspection_rows_carry_the_attention_shape(model, rows):
    from d2ltui.tui.inspection import inspect_model

    result = inspect_model(model, {}, "")
    assert result.error is None
    assert {r.name.strip(): r.attention for r in result.rows if r.attention} == rows


def test_inspector_table_snapshot(snap_compare):
    from textual.app import App

    from d2ltui.tui.widgets.layer_table import LayerTable
    from tui_pilot import settle_summary

    class One(App):
        def compose(self):
            yield LayerTable(id="inspector")

        def on_mount(self):
            self.query_one(LayerTable).request("transformer", {}, "1x10,1x10")

    async def ready(pilot):
        table = await settle_summary(pilot)
        await until(pilot, lambda: table.inspection is not None)
        pilot.app.set_focus(None)
        await pilot.pause(0.2)

    assert snap_compare(One(), terminal_size=(120, 40), run_before=ready)


@pilot_test
async def test_a_fra_eng_run_offers_the_books_four_sentences_before_any_question(tmp_path):
    write_run(tmp_path / "runs", "fra", model="seq2seq-attention", data="fra-eng")
    write_run(tmp_path / "runs", "rev", model="seq2seq-attention", data="reverse")
    book = ["go .", "i lost .", "he's calm .", "i'm home ."]
    app = create_app(runs_dir=tmp_path / "runs", attach="fra")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        field = app.screen.query_one("#ask")
        assert field.placeholder.endswith("(try: " + " | ".join(book) + ")")
        await pilot.press("slash", *"he")
        await pilot.pause(0.2)  # the completion is looked up in a worker
        await pilot.press("right")  # accepts the completion, as in any Textual input
        assert field.value == "he's calm ."
    app = create_app(runs_dir=tmp_path / "runs", attach="rev")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        field = app.screen.query_one("#ask")
        assert "try:" not in field.placeholder
        await pilot.press("slash", *"he")
        await pilot.pause(0.2)
        await pilot.press("right")
        assert field.value == "he"
