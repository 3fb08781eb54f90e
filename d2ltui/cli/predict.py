"""`d2l-tui predict RUN INPUT`: a run's answer to the user's own input, as lines or one JSON object."""

from __future__ import annotations

import json

from d2ltui.rundir.store import RunDir


def run_predict(run: str, text: str, json_out: bool = False, runs_dir: str | None = None) -> None:
    from d2ltui.engine.analysis.predict import answer_lines, grid_lines, headline_map, load_predictor

    found = RunDir.find(run, runs_dir)
    predictor = load_predictor(found.path)
    answer = predictor.answer(text)
    if json_out:
        print(json.dumps({"run": found.id, "step": predictor.step, **answer}))
        return
    for line in answer_lines(answer):
        print(line)
    maps = answer.get("attention")
    heat = headline_map(maps if isinstance(maps, list) else [])
    if heat is not None and len(heat["cols"]) <= 24:
        print(heat["title"])
        for line in grid_lines(heat):
            print(line)
