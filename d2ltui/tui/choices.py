"""What the configuration panel offers: datasets by task and the real devices (presets: d2ltui.config.presets)."""

from __future__ import annotations



def datasets_for(task: str) -> list[str]:
    """Names of the registered datasets whose task is `task` (metadata only, no torch)."""
    from d2ltui.data.registry import datasets_for as registered

    return list(registered(task))


def list_devices() -> list[tuple[str, str]]:
    """(label, value) for each device really present; value 'all:N' means every GPU (--nproc N).

    Imports torch: call it from a worker thread.
    """
    from d2ltui.devices import list_devices as present

    found = []
    for dev in present():
        memory = f" ({dev.free_mb / 1024:.1f}/{dev.total_mb / 1024:.0f} GiB free)" if dev.total_mb else ""
        found.append((f"{dev.name} {dev.label}{memory}" if dev.name != "cpu" else dev.label, dev.name))
    gpus = sum(1 for _, name in found if name.startswith("cuda:"))
    if gpus > 1:
        found.append((f"all {gpus} GPUs", f"all:{gpus}"))
    return found
