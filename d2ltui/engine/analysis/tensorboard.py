"""TensorBoard event files through torch.utils.tensorboard: a live event-bus subscriber, and an export of a past run.

Scalars are tagged `<split>/<key>` (train/loss, val/acc, train/lr, ...) at the run's optimizer step;
layer statistics (layers.jsonl) become, per recorded step, one histogram per statistic over the layers
(`layers/grad_norm`, ...) and one scalar per layer and statistic (`layers/<layer>/<stat>`); the model
graph is traced once from a batch of the run's data. The `tensorboard` package is an
optional extra: without it, one line says how to install it.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from d2ltui.engine.loop import events as ev
from d2ltui.errors import UserError, require_module
from d2ltui.rundir.states import END_STATES
from d2ltui.rundir.store import LAYER_STATS

NOT_SCALARS = {"step", "epoch", "split", "time", "fold"}  # a record's coordinates, not values to plot


def require_tensorboard() -> None:
    """A UserError saying how to install the tensorboard package when it is missing."""
    require_module("tensorboard", "TensorBoard", "tensorboard")


def summary_writer(logdir: Path, purge_step: int | None = None) -> Any:
    require_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    _quiet_writer_threads()
    return SummaryWriter(str(logdir), purge_step=purge_step)


def _quiet_writer_threads() -> None:
    """The event writer's thread hands a failed write (a full disk) to the caller, which says it in one line, and
    re-raises it: that second telling, a thread's traceback, is not printed."""
    previous = threading.excepthook
    if getattr(previous, "quiet_writer_threads", False):
        return

    def hook(args: Any) -> None:
        if not (type(args.thread).__name__ == "_AsyncWriterThread" and isinstance(args.exc_value, OSError)):
            previous(args)

    hook.quiet_writer_threads = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def scalars(record: dict[str, Any]) -> list[tuple[str, float]]:
    """(tag, value) of every number of a metrics record: train/loss, val/acc, train/samples_per_s, ..."""
    split = record.get("split", "train")
    return [(f"{split}/{key}", float(value)) for key, value in record.items()
            if key not in NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool)]


def write_record(writer: Any, record: dict[str, Any], walltime: float | None = None) -> int:
    step = record.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool):  # a damaged line: nothing to place it at
        return 0
    pairs = scalars(record)
    for tag, value in pairs:
        writer.add_scalar(tag, value, step, walltime=walltime)
    return len(pairs)


def layer_tag(layer: str) -> str:
    return layer or "model"  # a model that is itself one layer has the empty name


def write_layers(writer: Any, records: list[dict[str, Any]], walltime: Callable[[int], float | None] = lambda s: None
                 ) -> tuple[int, int]:
    """Layer records (layers.jsonl lines) as histograms over the layers and per-layer scalars; returns their counts."""
    import numpy as np

    by_step: dict[int, list[dict[str, Any]]] = {}
    for rec in records:
        if isinstance(rec.get("step"), int) and isinstance(rec.get("layer"), str):
            by_step.setdefault(rec["step"], []).append(rec)
    histograms = count = 0
    for step, recs in by_step.items():
        when = walltime(step)
        for stat in LAYER_STATS:
            pairs = [(layer_tag(r["layer"]), float(r[stat])) for r in recs
                     if isinstance(r.get(stat), (int, float)) and not isinstance(r.get(stat), bool)]
            for layer, value in pairs:
                writer.add_scalar(f"layers/{layer}/{stat}", value, step, walltime=when)
            finite = np.array([v for _, v in pairs if math.isfinite(v)], dtype=np.float64)
            if finite.size:
                writer.add_histogram(f"layers/{stat}", finite, step, walltime=when)
                histograms += 1
            count += len(pairs)
    return histograms, count


def add_graph(writer: Any, cfg: Any, data: Any) -> str:
    """Trace the run's model on two examples of its data into `writer`; returns why not ("" when written)."""
    import torch

    from d2ltui.tasks.resolve import merge_data_knobs
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import spec_of

    try:
        spec = spec_of(cfg)
        model = build_model(spec, merge_data_knobs(cfg, spec, data.model_knobs, data.name), data.input_shape, "cpu")
        batch = data.prepare(tuple(t[:2] for t in data.train), False)  # the inputs as the model sees them
        inputs = tuple(t.cpu() for t in batch[:len(data.input_shape)])
        model.eval()
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # add_graph traces with torch.jit, which warns and prints its errors
            writer.add_graph(model, inputs if len(inputs) > 1 else inputs[0])
        return ""
    except Exception as err:  # a model the tracer cannot follow: scalars are still written
        return f"{cfg.model.name} cannot be traced ({type(err).__name__})"


class TensorBoardWriter:
    """Event-bus subscriber (like the Recorder): scalars as metrics arrive, layer statistics as they are
    recorded, the graph at the start.

    A resumed run purges the events past the step it resumes from, as metrics.jsonl drops its lines.
    """

    def __init__(self, logdir: Path, graph: Callable[[Any], str] | None = None) -> None:
        self.logdir, self.graph, self.writer = Path(logdir), graph, None

    def __call__(self, event: ev.Event) -> None:
        try:
            self.record(event)
        except OSError as err:  # a full or read-only disk: the run goes on; export rebuilds the events later
            self.writer = None
            print(f"tensorboard: events not written ({err.strerror or type(err).__name__}); `d2l-tui export RUN "
                  f"--tensorboard DIR` rebuilds them from the run's records", file=sys.stderr, flush=True)

    def record(self, event: ev.Event) -> None:
        if isinstance(event, ev.Started):
            # a resume from step S keeps what was written up to S and drops the later events, as metrics.jsonl does
            self.writer = summary_writer(self.logdir, purge_step=event.start_step + 1 if event.start_step else None)
            if self.graph and not event.start_step and (why := self.graph(self.writer)):
                print(f"tensorboard: model graph not written ({why})", file=sys.stderr, flush=True)
        elif self.writer is None:
            return
        elif isinstance(event, ev.Metrics):
            write_record(self.writer, event.record)
        elif isinstance(event, ev.LayerStats):
            write_layers(self.writer, event.records)
        elif isinstance(event, ev.Status) and event.state in END_STATES:
            self.writer.flush()
        elif isinstance(event, ev.Checkpointed):
            self.writer.flush()


def export_run(path: Path, out: Path) -> dict[str, Any]:
    """Write a past run's scalars (metrics.jsonl, at their wall time), layer statistics (layers.jsonl, at the
    wall time of the first metrics line at or after their step) and model graph into `out`."""
    from d2ltui.config.schema import from_dict, load_toml
    from d2ltui.rundir.store import CONFIG, LAYERS, METRICS, read_metrics, read_status

    require_tensorboard()
    records = read_metrics(path / METRICS)[0]
    layers = read_metrics(path / LAYERS)[0]
    started = read_status(path).get("started")
    cfg = from_dict(load_toml(path / CONFIG), source=str(path / CONFIG))
    made = not out.exists()
    try:
        return _export(out, cfg, records, layers, started)
    except OSError as err:
        if made:  # nothing half-written is left behind
            shutil.rmtree(out, ignore_errors=True)
        raise UserError(f"--tensorboard {out}: cannot be written ({err.strerror or type(err).__name__})") from None


def _export(out: Path, cfg: Any, records: list, layers: list, started: Any) -> dict[str, Any]:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(20, "a file, not a folder")
    writer = summary_writer(out)
    try:
        count = 0
        for record in records:
            when = started + record["time"] if isinstance(started, (int, float)) \
                and isinstance(record.get("time"), (int, float)) else None
            count += write_record(writer, record, walltime=when)
        histograms, layer_scalars = write_layers(writer, layers, _walltimes(records, started))
        graph = _export_graph(writer, cfg)
    finally:
        writer.close()
    return {"records": len(records), "scalars": count, "layer_steps": len({r.get("step") for r in layers}),
            "histograms": histograms, "layer_scalars": layer_scalars, "graph": graph}


def _walltimes(records: list[dict[str, Any]], started: Any) -> Callable[[int], float | None]:
    """step -> the wall time of the first metrics record at or after it (None when unknown)."""
    timed = sorted((r["step"], r["time"]) for r in records
                   if isinstance(r.get("step"), int) and isinstance(r.get("time"), (int, float)))
    steps = [s for s, _ in timed]

    def walltime(step: int) -> float | None:
        i = bisect.bisect_left(steps, step)
        if not isinstance(started, (int, float)) or not timed:
            return None
        return started + timed[min(i, len(timed) - 1)][1]
    return walltime


def _export_graph(writer: Any, cfg: Any) -> str:
    """The graph from the run's own config and data on the CPU; returns why not ("" when written)."""
    from d2ltui.data.registry import load_data, task_for
    from d2ltui.zoo.registry import spec_of

    try:
        data = load_data(cfg.data, task_for(spec_of(cfg), cfg.data.name), "cpu")
    except UserError as err:
        return f"its data cannot be loaded here ({err})"
    return add_graph(writer, cfg, data)
