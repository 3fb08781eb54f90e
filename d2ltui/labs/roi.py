"""RoI pooling and RoIAlign (section 14.8) from torchvision.ops on the book's 4x4 example, regions as knobs."""

from __future__ import annotations

import torch
from torchvision.ops import roi_align, roi_pool

from d2ltui.labs.figure import Boxes, Figure, Grid, rounded


def book_features() -> torch.Tensor:
    """The book's X = arange(16).reshape(1, 1, 4, 4): a 4x4 feature map of an image ten times larger."""
    return torch.arange(16.0).reshape(1, 1, 4, 4)


def compute(region1: tuple = (0.0, 0.0, 20.0, 20.0), region2: tuple = (0.0, 10.0, 30.0, 30.0),
            spatial_scale: float = 0.1, output_size: int = 2, sampling_ratio: int = -1) -> Figure:
    X = book_features()
    rois = torch.tensor([[0.0, *region1], [0.0, *region2]])
    size = (output_size, output_size)
    pooled = roi_pool(X, rois, output_size=size, spatial_scale=spatial_scale)
    aligned = roi_align(X, rois, output_size=size, spatial_scale=spatial_scale, sampling_ratio=sampling_ratio,
                        aligned=False)
    boxes = [{"xyxy": rounded([v * spatial_scale for v in region], 3), "label": f"region {i + 1}", "score": None}
             for i, region in enumerate((region1, region2))]
    knobs = {"region1": region1, "region2": region2, "spatial_scale": spatial_scale, "output_size": output_size,
             "sampling_ratio": sampling_ratio}
    panels = [
        Boxes("regions on the 4x4 feature map (x spatial_scale)", rounded((X[0, 0] / 15).tolist(), 3), boxes),
        Grid("X", {"features": X[0, 0].tolist()}),
        Grid("roi_pool", {f"region {i + 1}": rounded(pooled[i, 0].tolist(), 3) for i in range(2)}),
        Grid("roi_align", {f"region {i + 1}": rounded(aligned[i, 0].tolist(), 3) for i in range(2)}),
    ]
    notes = ["roi_pool snaps each region to whole cells and takes the maximum of each bin; "
             "roi_align samples bilinearly (sampling_ratio points a bin, -1: adaptive) and averages",
             f"regions are in image pixels; x {spatial_scale:g} maps them onto the feature map"]
    return Figure("roi-pooling", knobs, panels, notes)
