"""Datasets: embedded ones (no download) and real ones (torchvision, text, CSV), all held as tensors.

`load_data(cfg.data, task, device)` returns a `DataModule` (see base.py): the whole split
as tensors on the training device, sliced by a shuffled index each epoch, plus a per-batch
`prepare` (resize, augmentation, normalisation) done on the device.
"""

from d2ltui.data.registry import DATASETS, datasets_for, load_data

__all__ = ["DATASETS", "datasets_for", "load_data"]
