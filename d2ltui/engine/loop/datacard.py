"""The data card: what a run's data fixes for answering new inputs later (vocabularies, classes, image prep).

Written once at the start of a run as data.json, so that `predict` needs neither the dataset's
files nor the time to reload it; a run without one (older runs) has its data reloaded instead.
"""

from __future__ import annotations

from typing import Any

from d2ltui.data.base import DataModule
from d2ltui.data.transforms import ImagePrepare


def data_card(dm: DataModule) -> dict[str, Any]:
    """Plain JSON: name, task, input shape, model knobs, classes, vocabularies, image preparation,
    and for attention pooling the training points (its keys and values)."""
    card: dict[str, Any] = {"name": dm.name, "task": dm.task, "input_shape": [list(s) for s in dm.input_shape],
                            "model_knobs": dict(dm.model_knobs), "classes": list(dm.classes),
                            "vocab": list(dm.vocab), "src_vocab": list(dm.src_vocab)}
    if isinstance(dm.prepare, ImagePrepare):
        p = dm.prepare
        card["image"] = {"mean": list(p.mean) if p.mean is not None else None,
                         "std": list(p.std) if p.std is not None else None}
    if "x_train" in dm.info:
        card["pooling"] = {"keys": list(dm.info["x_train"]), "values": list(dm.info["y_train"])}
    return card
