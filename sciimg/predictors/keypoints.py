"""Points of interest in detector volumes: one keypoint logit per voxel from a dense 3-D network."""

from __future__ import annotations

from typing import Any

import torch

from sciimg.nets import build
from sciimg.predictors.base import Predictor

KEYPOINT_PRIOR_LOGIT = -4.6  # p = 0.01 at the start: few occupied voxels are keypoints


class KeypointPredictor(Predictor):
    """Keypoint logits ``(B, 1, *spatial)`` of a volume; arguments of :class:`~sciimg.predictors.base.Predictor`
    with a dense backbone (``unet``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = build(self.backbone, self.spatial_dims, self.in_channels, out_channels=1, **self.backbone_options)
        if getattr(self.model, "out_channels", None) != 1:
            raise ValueError(f"backbone must be a dense network (unet), got {self.backbone!r}")
        with torch.no_grad():
            self.model.head[0].bias.fill_(KEYPOINT_PRIOR_LOGIT)
