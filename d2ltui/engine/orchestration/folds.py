"""K-fold cross-validation: `trainer.fit` once per fold into one run directory, then the mean over the folds.

Every metrics line of fold i carries `"fold": i` (1-based) and a step counted on from the folds
before it, so curves continue; after each fold a `"split": "fold"` line holds that fold's final
validation, and at the end a `"split": "cv"` line holds their mean, which status.json's message
and `best` repeat. A stopped run resumes at its unfinished fold (retrained from its start);
finished folds are skipped.
"""

from __future__ import annotations

import json
from typing import Any

from d2ltui.config.schema import RunConfig
from d2ltui.data.base import DataModule
from d2ltui.data.folds import fold_data
from d2ltui.engine.loop import events as ev
from d2ltui.engine.loop.trainer import FitResult, fit
from d2ltui.errors import UserError
from d2ltui.rundir.store import METRICS, RunDir, read_metrics
from d2ltui.rundir.writer import RunWriter, write_text_record
from d2ltui.tasks.base import make_task


class FoldTagger:
    """A subscriber ahead of the recorder: tags fold i's events and shifts its steps past earlier folds."""

    def __init__(self, fold: int, folds: int, offset: int) -> None:
        self.fold, self.folds, self.offset = fold, folds, offset

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Metrics):
            event.record["fold"] = self.fold
            event.record["step"] = int(event.record.get("step", 0)) + self.offset
        elif isinstance(event, ev.Started):
            event.total_steps *= self.folds
            event.start_step += self.offset
        elif isinstance(event, ev.Status):
            if "step" in event.extra:
                event.extra["step"] = int(event.extra["step"]) + self.offset
            if "total_steps" in event.extra:
                event.extra["total_steps"] = int(event.extra["total_steps"]) * self.folds
            if event.state == "finished" and self.fold < self.folds:
                event.state = "running"
            event.message = f"fold {self.fold} of {self.folds}: {event.message}"


def completed_folds(run: RunDir | None) -> dict[int, dict[str, Any]]:
    """The `"split": "fold"` lines already in the run, by fold number."""
    if run is None:
        return {}
    return {int(r["fold"]): r for r in read_metrics(run.path / METRICS)[0]
            if r.get("split") == "fold" and isinstance(r.get("fold"), int) and isinstance(r.get("step"), int)}


def drop_unfinished(run: RunDir, fold: int) -> None:
    """Remove the lines of an interrupted fold (it is trained again from its start)."""
    path = run.path / METRICS
    if not path.exists():
        return
    records = read_metrics(path)[0]
    kept = [r for r in records if r.get("fold") != fold or r.get("split") == "fold"]
    if len(kept) != len(records):
        write_text_record(path, "".join(json.dumps(r) + "\n" for r in kept))


def mean_over(folds: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k, v in folds[0].items() if isinstance(v, (int, float)) and k not in ("step", "epoch", "fold", "time")]
    return {k: sum(float(f[k]) for f in folds) / len(folds) for k in keys if all(k in f for f in folds)}


def fit_folds(cfg: RunConfig, run: RunDir | None, subscribers: list, control: Any, data: DataModule,
              resume: bool = False, dist_info: Any = None) -> FitResult:
    """Train fold 1..K of `data` (cfg.data.folds = K) and record the mean of the folds' validations."""
    k = cfg.data.folds
    run = RunWriter.of(run) if run is not None else None
    done = completed_folds(run) if resume else {}
    if resume and any(r.get("split") == "cv" for r in read_metrics(run.path / METRICS)[0]):
        raise UserError(f"run {run.id} already finished its {k} folds")
    offset = max((int(r["step"]) for r in done.values()), default=0)
    result = None
    for i in range(k):
        if i + 1 in done:
            continue
        if run is not None and resume:
            drop_unfinished(run, i + 1)
        tagger = FoldTagger(i + 1, k, offset)
        result = fit(cfg, run, [tagger, *subscribers], control, data=fold_data(data, i, k), dist_info=dist_info)
        if result.state != "finished":
            return result
        offset += result.step
        done[i + 1] = {"step": offset, "epoch": result.epoch, "split": "fold", "fold": i + 1, **result.val}
        if run is not None:
            run.append_metrics(done[i + 1])
    mean = mean_over([done[i + 1] for i in range(k)])
    metric = make_task(data).headline()[0]  # the run's headline, as status.json records it
    summary = ", ".join(f"{done[i + 1].get(metric, float('nan')):.4g}" for i in range(k))
    message = f"{k}-fold mean val {metric} {mean.get(metric, float('nan')):.4g} (folds: {summary})"
    if run is not None:
        run.append_metrics({"step": offset, "split": "cv", "folds": k, **mean})
        status = run.status()
        extra = {key: v for key, v in status.items() if key not in ("state", "message", "pid", "pid_start", "host",
                                                                    "updated", "best")}
        best = {"metric": metric, "value": mean.get(metric), "step": offset, "folds": k}
        run.write_status("finished", message, **{**extra, "best": best, "step": offset})
    for subscriber in subscribers:
        subscriber(ev.Status("finished", message))
    model = result.model if result is not None else None
    return FitResult("finished", message, offset, cfg.train.epochs, mean,
                     {"metric": metric, "value": mean.get(metric)}, model)
