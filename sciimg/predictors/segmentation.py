"""Semantic segmentation of occupied voxels (or pixels): one logit per class per voxel."""

from __future__ import annotations

from typing import Any

from sciimg.nets import build
from sciimg.predictors.base import Predictor


class SegmentationPredictor(Predictor):
    """Class logits ``(B, n_classes, *spatial)`` of a volume.

    Args:
        backbone, backbone_options: a dense backbone (``unet``).
        n_classes: classes the labels take (0 ... n_classes - 1).
        **kwargs: see :class:`~sciimg.predictors.base.Predictor`.
    """

    def __init__(self, backbone: str = "unet", spatial_dims: int = 3, n_classes: int = 6, **kwargs: Any) -> None:
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        super().__init__(backbone=backbone, spatial_dims=spatial_dims, **kwargs)
        self.n_classes = n_classes
        self.model = build(
            backbone, self.spatial_dims, self.in_channels, out_channels=n_classes, **self.backbone_options
        )
        if getattr(self.model, "out_channels", None) != n_classes:
            raise ValueError(f"backbone must be a dense network (unet), got {backbone!r}")
