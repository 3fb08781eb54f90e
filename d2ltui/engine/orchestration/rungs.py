"""A sweep run rung by rung (successive halving, ASHA): each trial trains to a rung's epochs, the winners resume.

A trial's job at rung i is its run trained to `rungs[i]` epochs: the first job starts the run with
`train.epochs=rungs[0]`; a promotion resumes it from its checkpoint with `train.epochs=rungs[i]`.
A trial the scheduler does not send on stays where it stopped, checkpointed, and can be resumed
by hand with a higher train.epochs. The scheduler's decisions are replayed from `rungs.json`
(every job started and every score, in order), so `sweep --resume` continues where it was and
the sweep's views show each trial's state. Imports no torch.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ltui.engine.orchestration.halving import RungScheduler, make_scheduler
from d2ltui.rundir.index import headline
from d2ltui.rundir.store import METRICS, read_json, read_metrics, read_status
from d2ltui.rundir.writer import write_sweep_record
from d2ltui.rundir.sweeps import BASE, read_sweep

RUNGS = "rungs.json"


def replay(path: Path, record: dict[str, Any] | None = None) -> tuple[RungScheduler, list[list]]:
    """The sweep's scheduler with every decision so far replayed, and the event list (from rungs.json)."""
    record = record or read_sweep(path)
    spec = record["scheduler"]
    scheduler = make_scheduler(spec["name"], [m["id"] for m in record["members"]], spec["rungs"], spec["eta"])
    events = (read_json(path / RUNGS) or {}).get("events", [])
    for event in events:
        if event[0] == "start":
            scheduler.mark(event[1], event[2])
        elif event[0] == "score":
            scheduler.report(event[1], event[2], event[3])
    return scheduler, events


def val_curve(run: Path) -> tuple[str | None, bool, dict[int, float]]:
    """A run's headline validation metric (rundir.index.headline), whether higher is better, and its value per
    epoch."""
    records = [r for r in read_metrics(run / METRICS)[0] if r.get("split") == "val"]
    metric, higher = headline(run, records)
    return metric, higher, {int(r["epoch"]): float(r[metric]) for r in records if metric in r and "epoch" in r}


def score(value: float | None, higher: bool) -> float | None:
    """Lower is better for the scheduler: an accuracy is negated, a loss kept; None when there is none."""
    if value is None:
        return None
    return -value if higher else value


@dataclass
class Trial:
    """One trial of a rung sweep, as the sweep's views and `sweep --json` show it."""

    id: str
    setting: dict[str, Any]
    state: str  # pending, running, waiting, stopped (early, at a rung), finished, failed
    rung: int | None  # the epochs of the highest rung it reached
    metric: str | None
    value: float | None  # its metric at that rung
    curve: dict[int, float] = field(default_factory=dict)  # epoch -> validation metric
    higher_is_better: bool = False  # the direction of `metric`

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "setting": self.setting, "state": self.state, "rung": self.rung,
                "metric": self.metric, "value": self.value, "curve": {str(k): v for k, v in self.curve.items()}}


def trials(path: Path) -> list[Trial]:
    """Every trial of the rung sweep at `path`: settings, state, rung reached, metric there and curve."""
    record = read_sweep(path)
    scheduler, _ = replay(path, record)
    levels = scheduler.levels
    out = []
    for member in record["members"]:
        metric, higher, curve = val_curve(path / member["id"])
        rung = scheduler.rung_reached(member["id"])
        state = scheduler.state(member["id"])
        if rung is not None and scheduler.scores[rung][member["id"]] is None:
            state = "failed"
        epochs = levels[rung] if rung is not None else None
        out.append(Trial(member["id"], member["setting"], state, epochs, metric,
                         curve.get(epochs) if epochs else None, curve, higher))
    return out


def best_trial(rows: list[Trial]) -> Trial | None:
    """The trial of the best metric at the highest rung any trial reached."""
    scored = [t for t in rows if t.value is not None and t.rung is not None]
    if not scored:
        return None
    top = max(t.rung for t in scored)
    sign = -1 if scored[0].higher_is_better else 1
    return min((t for t in scored if t.rung == top), key=lambda t: sign * t.value)


def run_rungs(path: Path, parallel: int, log: Any = None) -> bool:
    """Run the rung sweep at `path` to its end (or a stop signal); True when it was not interrupted."""
    from d2ltui.config.schema import from_dict, load_toml
    from d2ltui.engine.loop.control import STOP_SIGNALS
    from d2ltui.engine.orchestration.slots import POLL_S, Scheduler, slots_for, wait_for_live

    record = read_sweep(path)
    scheduler, events = replay(path, record)
    levels, members = scheduler.levels, {m["id"]: m for m in record["members"]}
    redo = scheduler.running()  # started by an earlier command and never scored: those go first
    device = from_dict(load_toml(path / BASE), source=str(path / BASE)).train.device
    runner = Scheduler(path, slots_for(parallel, device), log=log)
    jobs: dict[str, int] = {}
    halted = False  # a trial stopped by hand: the sweep ends unfinished, `sweep --resume` runs it again

    def save(event: list) -> None:
        events.append(event)
        write_sweep_record(path, RUNGS, {"events": events})

    previous = {sig: signal.signal(sig, runner.on_stop) for sig in STOP_SIGNALS}
    try:
        while True:
            for member in runner.reap():
                rung = jobs.pop(member["id"])
                state = read_status(path / member["id"]).get("state")
                if state == "stopped" or runner.stopping:  # interrupted: the job runs again on --resume
                    halted = True
                    continue
                metric, higher, curve = val_curve(path / member["id"])
                value = curve.get(levels[rung]) if state == "finished" else None
                scheduler.report(member["id"], rung, score(value, higher))
                save(["score", member["id"], rung, score(value, higher), metric, value])
                runner.say(f"{member['id']}: rung {rung} ({levels[rung]} epochs): {metric} " + (f"{value:.4g}" if value is not None else "-"))
            if runner.stopping:
                break
            while len(runner.running) < len(runner.slots):
                if redo:
                    job = redo.pop(0)
                elif job := scheduler.next_job():
                    save(["start", *job])
                else:
                    break
                wait_for_live(path, members[job[0]], log)
                slot = next(i for i in range(len(runner.slots)) if i not in runner.running)
                runner.start(slot, members[job[0]], [f"train.epochs={levels[job[1]]}"])
                jobs[job[0]] = job[1]
            if not runner.running and not redo and scheduler.candidate() is None:
                break
            time.sleep(POLL_S)
        return runner.drain() and not halted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
