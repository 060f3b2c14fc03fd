"""Source detection by centre points: one dense network gives a heatmap, sub-pixel offsets and fluxes.

The four output channels per pixel (:data:`CHANNELS`) are the logit that a source is
centred there, its offset from the pixel centre (y, x), and the natural log of its flux
in units of the image noise (CenterNet, Zhou et al. 2019).
"""

from __future__ import annotations

from typing import Any

import torch

from sciimg.nets import build
from sciimg.predictors.base import Predictor

CHANNELS = ("heat", "offset_y", "offset_x", "log_flux")
HEAT, OFFSET_Y, OFFSET_X, LOG_FLUX = range(len(CHANNELS))
SOURCE_PRIOR_LOGIT = -2.19  # p = 0.1 at the start, as in CenterNet


class DetectionPredictor(Predictor):
    """Heat logits, offsets and log fluxes ``(B, 4, Y, X)`` of an image (stretched noise units, unusable 0).

    Args:
        backbone, backbone_options: a dense backbone (``unet``).
        **kwargs: see :class:`~sciimg.predictors.base.Predictor`.
    """

    def __init__(self, backbone: str = "unet", **kwargs: Any) -> None:
        super().__init__(backbone=backbone, **kwargs)
        options = self.backbone_options
        self.model = build(backbone, self.spatial_dims, self.in_channels, out_channels=len(CHANNELS), **options)
        if getattr(self.model, "out_channels", None) != len(CHANNELS):
            raise ValueError(f"backbone must be a dense network (unet), got {backbone!r}")
        with torch.no_grad():
            self.model.head[0].bias[HEAT] = SOURCE_PRIOR_LOGIT
