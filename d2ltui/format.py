"""Text in and out for every view: shapes, counts, bytes, durations, ETAs and metrics, so the TUI and CLI agree."""

from __future__ import annotations

import difflib
import re
from typing import Any, Sequence

from d2ltui.errors import UserError
from d2ltui.metrics import HEADLINE_METRICS, SIDE_METRICS

Shape = tuple[int, ...]
MAX_DIM = 10_000_000  # a single dimension larger than this is surely a typo
_DIM = re.compile(r"\d+")


def parse_shape(text: str, label: str = "--input") -> Shape:
    """One shape such as "1x1x28x28": positive integers joined by 'x' (batch first)."""
    raw = text.strip().lower().replace("×", "x").replace("*", "x")
    if not raw:
        raise UserError(f"{label}: empty shape; expected dimensions joined by 'x', e.g. 1x1x28x28")
    dims = [d.strip() for d in raw.split("x")]
    bad = [d for d in dims if not _DIM.fullmatch(d)]
    if bad:
        shown = repr(bad[0]) if bad[0] else "an empty dimension"
        raise UserError(f"{label}: {text.strip()!r} has {shown}; expected positive integers joined by 'x', "
                        f"e.g. 1x1x28x28")
    values = tuple(int(d) for d in dims)
    if any(v < 1 for v in values):
        raise UserError(f"{label}: {text.strip()!r} has a zero dimension; every dimension must be at least 1")
    if any(v > MAX_DIM for v in values):
        raise UserError(f"{label}: {text.strip()!r} has a dimension above {MAX_DIM:,}")
    return values


def parse_shapes(text: str, label: str = "--input") -> tuple[Shape, ...]:
    """One shape per model input, separated by commas: "1x9,1x9" -> ((1, 9), (1, 9))."""
    if text is None or not text.strip():
        raise UserError(f"{label}: empty; expected a shape such as 1x1x28x28 (two inputs: 1x9,1x9)")
    parts = text.split(",")
    if len(parts) > 1:
        return tuple(parse_shape(p, f"{label} (input {i + 1})") for i, p in enumerate(parts))
    return (parse_shape(parts[0], label),)


def format_shape(shape: Shape | None) -> str:
    """(1, 1, 28, 28) -> "1x1x28x28"; None -> "-"."""
    if shape is None:
        return "-"
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def format_shapes(shapes: tuple[Shape, ...]) -> str:
    """((1, 9), (1, 9)) -> "1x9,1x9"."""
    return ",".join(format_shape(s) for s in shapes)


def format_field(field: tuple[int, ...] | None) -> str:
    """A receptive field: (11, 11) -> "11"; (3, 5) -> "3x5"; None -> "-"."""
    if not field:
        return "-"
    return str(field[0]) if len(set(field)) == 1 else "x".join(map(str, field))


def human_count(n: float | None, unit: str = "") -> str:
    """1234567 -> "1.23M" (SI prefixes, three significant digits); None -> "-"."""
    if n is None:
        return "-"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{prefix}{unit}"
    return f"{n:.0f}{unit}"


def format_number(value: float) -> str:
    """0.012345 -> "0.0123" (three significant digits); NaN -> "-"."""
    return "-" if value != value else f"{value:.3g}"


def human_bytes(n: float | None) -> str:
    """246824 -> "241 KiB" (binary prefixes); None -> "-"."""
    if n is None:
        return "-"
    for prefix, scale in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {prefix}B"
    return f"{n:.0f} B"


def format_duration(seconds: float | None) -> str:
    """3725 -> "1:02:05", 65 -> "1:05"; None -> "-"."""
    if seconds is None:
        return "-"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def eta_seconds(steps: Sequence[float], times: Sequence[float], total: float, window: int = 20) -> float | None:
    """Seconds left to step `total`, from the run's (step, training time) records.

    `times` is the engine's training clock (the `time` of metrics.jsonl), which stands
    still while a run is stopped, so a stop and `--resume` add nothing. The rate is that
    of the last `window` records; None when unknown.
    """
    pairs = [(s, t) for s, t in zip(steps, times) if isinstance(t, (int, float))][-window:]
    if not pairs or not total:
        return None
    (s0, t0), (s1, t1) = pairs[0], pairs[-1]
    if len(pairs) == 1 or s1 <= s0:
        s0, t0 = 0, 0.0  # one record: the rate since the run began
    if s1 <= s0 or t1 < t0:
        return None
    return max(0.0, (t1 - t0) / (s1 - s0) * (total - s1))


def format_best(metric: str | None, value: float | None) -> str:
    """A run's best metric: "acc 0.9123"; "-" when there is none."""
    return f"{metric} {value:.4g}" if metric and value is not None else "-"


def format_metrics(record: dict[str, Any]) -> str:
    """'loss 0.1234 acc 0.912': the loss and the quality metrics a record has."""
    parts = [f"loss {record['loss']:.4f}"] if isinstance(record.get("loss"), (int, float)) else []
    for key in (*SIDE_METRICS, *HEADLINE_METRICS):
        if key in record:
            parts.append(f"{key} {record[key]:.4g}")
    return " ".join(parts)


def format_mean_std(mean: float | None, std: float | None) -> str:
    """A metric over seeds: "0.8123 ± 0.0100"; "-" when no run finished."""
    return "-" if mean is None else f"{mean:.4g} ± {std or 0.0:.2g}"


def format_stat(value: float | None) -> str:
    """A layer statistic in a table cell: 3 significant digits, small values in exponent form, '-' for none."""
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def efficiency_text(record: dict[str, Any]) -> str:
    """A train record's efficiency in one short line: "1,234 samples/s 3.1TFLOP/s MFU 31% data 2% GPU 97% 250W 61C
    (compile 41.2s)"; only the fields the record has (metrics.EFFICIENCY_KEYS), "" when it has none."""
    parts = []
    if record.get("samples_per_s"):
        parts.append(f"{record['samples_per_s']:,.0f} samples/s")
    if record.get("flops_per_s"):
        parts.append(human_count(record["flops_per_s"], "FLOP/s"))
    if record.get("mfu") is not None:
        parts.append(f"MFU {100 * record['mfu']:.1f}%")
    if record.get("data_wait") is not None:
        parts.append(f"data {100 * record['data_wait']:.0f}%")
    for key, form in (("gpu_util", "GPU {:.0f}%"), ("gpu_power_w", "{:.0f}W"), ("gpu_temp_c", "{:.0f}C")):
        if record.get(key) is not None:
            parts.append(form.format(record[key]))
    if record.get("compile_s") is not None:
        parts.append(f"(compile {record['compile_s']:.1f}s)")
    return " ".join(parts)


def run_progress(status: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any]:
    """Where a run is, for every view: step, total_steps, epoch, total_epochs from status.json and its newest train
    record, whichever is further (status.json is rewritten at epoch ends, a record at every logged step).

    `epoch` is the epoch in progress counted from 1 (a record's own "epoch"; status.json counts those done),
    at most total_epochs; unknown values are None.
    """
    def number(value: Any) -> int | None:
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    total_epochs, total_steps = number(status.get("total_epochs")), number(status.get("total_steps"))
    step, done = number(status.get("step")), number(status.get("epoch"))
    epoch = done + 1 if done is not None else None
    row_step, row_epoch = number((last or {}).get("step")), number((last or {}).get("epoch"))
    if row_step is not None and (step is None or row_step >= step):
        step, epoch = row_step, row_epoch if row_epoch is not None else epoch
    if epoch is not None and total_epochs:
        epoch = min(epoch, total_epochs)
    return {"step": step, "total_steps": total_steps, "epoch": epoch, "total_epochs": total_epochs}


def format_progress(status: dict[str, Any], last: dict[str, Any] | None) -> str:
    """"epoch 2/8 step 70/504" (see run_progress); '-' or '?' where unknown."""
    p = run_progress(status, last)
    show = lambda value, unknown: unknown if value is None else str(value)  # noqa: E731
    return (f"epoch {show(p['epoch'], '-')}/{show(p['total_epochs'], '?')} "
            f"step {show(p['step'], '-')}/{show(p['total_steps'], '?')}")


def suggest(word: str, options: list[str]) -> str:
    """A ' (did you mean ...?)' tail naming the closest options (each once: a preset and a model may share a
    name), or ''."""
    close = difflib.get_close_matches(word, list(dict.fromkeys(options)), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""
