"""The home screen's first layer table, summarised in a helper process that imports torch while the TUI starts.

Importing torch holds the GIL, so a thread cannot overlap it with Textual's start-up; a process can
(on another core). `start()` (d2ltui.cli.main, before Textual is imported) spawns
`python -m d2ltui.tui.prefetch MODEL PID`, which summarises MODEL as the home screen first asks
for it (the base config's knobs, the default input) with `inspect_model` (the call the layer
table makes) and prints those knobs and that Inspection as JSON.
`take(model, knobs, input_text)` (the layer table's worker) returns it when the request asks for
the same summary (same model, resolved knobs and input shapes), else None; either way the helper
is then gone. Until the app calls `painted()` the helper yields the CPU to it (where Linux lets a
session's share be set). A helper that fails, hangs or prints something else also gives None: the table then
computes in-process, as it does without a helper. The helper never outlives the app: it is killed
when taken, at exit, and it exits by itself once its parent process is gone.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from d2ltui.tui import HOME_MODEL

if TYPE_CHECKING:  # the app imports these after it has started the helper
    from d2ltui.tui.inspection import Inspection

WAIT_S = 120.0  # longest wait for the helper's result before computing in-process
PARENT_POLL_S = 0.25  # how often the helper checks that the app's process is still there
YIELDING = 19  # the helper session's nice until the app's first frame is out (`painted`)

_lock = threading.Lock()
_helper: subprocess.Popen | None = None
_model = ""


def start(model: str = HOME_MODEL) -> None:
    """Spawn the helper for `model` at its defaults (replacing any earlier one); never raises."""
    global _helper, _model
    close()
    try:
        # its own session: no terminal, and where Linux groups CPU time by session (autogroups) its
        # own share of the CPU, rather than half of the app's
        helper = subprocess.Popen([sys.executable, "-m", __name__, model, str(os.getpid())],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
    except OSError:
        return
    _share(helper.pid, YIELDING)  # on a busy machine, the app's first frame goes first
    with _lock:
        _helper, _model = helper, model
    atexit.unregister(close)
    atexit.register(close)


def painted() -> None:
    """The app's first frame is out: the helper may take its full share of the CPU."""
    helper = _helper
    if helper is not None:
        _share(helper.pid, 0)


def _share(pid: int, nice: int) -> None:
    """Set the nice value of the helper's session (Linux's autogroup; 0 is the default; elsewhere nothing).

    A session's nice weighs it against other sessions only when they compete for a core: on an idle
    core the helper runs at full speed whatever its value. Raising it back to 0 needs no privilege.
    """
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


def close() -> None:
    """Stop the helper, if one is there (its result is dropped)."""
    global _helper
    with _lock:
        helper, _helper = _helper, None
    if helper is not None:
        _stop(helper)


def pending() -> subprocess.Popen | None:
    """The helper process not yet taken or closed, if any."""
    return _helper


def take(model: str, knobs: dict[str, Any], input_text: str) -> Inspection | None:
    """The helper's Inspection when the request is the summary it computed, else None; the helper is gone after."""
    global _helper
    with _lock:
        helper, _helper = _helper, None
    if helper is None:
        return None
    import json
    from dataclasses import replace

    from d2ltui.tui.inspection import Inspection, Row

    try:
        if _key(model, knobs, input_text) != _key(_model, knobs, ""):  # another model or input: not worth a wait
            return None
        _share(helper.pid, 0)
        out, _ = helper.communicate(timeout=WAIT_S)
        if helper.returncode != 0:
            return None
        data = json.loads(out.decode().strip().splitlines()[-1])
        if _key(model, knobs, input_text) != _key(_model, data["knobs"], ""):
            return None
        found = data["inspection"]
        result = Inspection(**{**found, "rows": [Row(**row) for row in found["rows"]]})
    except Exception:  # a crash, a hang or a garbled line: the caller computes in-process
        return None
    finally:
        _stop(helper)
    return replace(result, model=model, input=input_text)


def _key(model: str, knobs: dict[str, Any], input_text: str) -> tuple | None:
    """What decides a summary: the model, its resolved knobs and the input shapes (None if any is invalid)."""
    from d2ltui.format import parse_shapes
    from d2ltui.zoo.registry import get_spec, resolve_knobs

    try:
        spec = get_spec(model)
        shapes = parse_shapes(input_text, "input") if input_text.strip() else spec.default_input
        return spec.name, tuple(sorted(resolve_knobs(spec, knobs).items())), tuple(map(tuple, shapes))
    except Exception:
        return None


def _stop(helper: subprocess.Popen) -> None:
    if helper.poll() is None:
        helper.kill()
    try:
        helper.communicate(timeout=5)
    except Exception:
        pass


def _exit_with(parent: int) -> None:
    """In the helper: exit as soon as the app's process is gone (this process is then re-parented)."""
    while os.getppid() == parent:
        threading.Event().wait(PARENT_POLL_S)
    os._exit(0)


def _serve(model: str, parent: int) -> None:
    """In the helper: print the home screen's first request and its Inspection, as one JSON line."""
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    from d2ltui.inspector import without_triton

    without_triton()
    import json
    from dataclasses import asdict

    from d2ltui.format import format_shapes
    from d2ltui.tui.inspection import inspect_model
    from d2ltui.tui.runplan import RunPlan
    from d2ltui.zoo.registry import get_spec

    # what the home screen first asks for: the base config's knobs (the model's training defaults for
    # the device kind it starts with) and the default input; the knob bar's knobs are at their defaults
    knobs, input_text = RunPlan.for_model(model).model_knobs(), format_shapes(get_spec(model).default_input)
    result = inspect_model(model, knobs, input_text)
    sys.stdout.write(json.dumps({"knobs": knobs, "inspection": asdict(result)}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
