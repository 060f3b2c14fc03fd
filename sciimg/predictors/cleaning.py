"""Artefact cleaning: a detector network finds cosmic rays, hot pixels, bad columns and trails; an inpainter fills them.

At inference (:meth:`CleaningPredictor.clean`) the detector's probability is thresholded at
the value calibrated on the validation split, the mask is grown, and the inpainter fills
it; every other pixel keeps its value.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from sciimg.nets import build, takes_mask
from sciimg.predictors.base import Predictor

MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}


def grow(mask: torch.Tensor, pixels: int, spatial_dims: int = 2) -> torch.Tensor:
    """A boolean ``(B, 1, *spatial)`` mask grown by ``pixels`` along every axis (diagonals included)."""
    if pixels <= 0:
        return mask
    return MAX_POOL[spatial_dims](mask.float(), 2 * pixels + 1, stride=1, padding=pixels) > 0


class CleaningPredictor(Predictor):
    """The artefact detector (``model``) and the inpainter (``inpainter``).

    Args:
        backbone, backbone_options: the detector, a dense backbone (``unet``).
        inpaint_backbone, inpaint_backbone_options: the inpainter (``unet``, fed the
            known-pixel mask as a channel, or ``pconv_unet``, fed it as partial-convolution mask).
        **kwargs: see :class:`~sciimg.predictors.base.Predictor`.
    """

    def __init__(
        self,
        backbone: str = "unet",
        inpaint_backbone: str = "unet",
        inpaint_backbone_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)
        self.model = build(backbone, self.spatial_dims, self.in_channels, out_channels=1, **self.backbone_options)
        self.mask_as_argument = takes_mask(inpaint_backbone)
        channels = self.in_channels * (1 if self.mask_as_argument else 2)
        options = inpaint_backbone_options or {}
        self.inpainter = build(inpaint_backbone, self.spatial_dims, channels, out_channels=1, **options)
        for name, net in ((backbone, self.model), (inpaint_backbone, self.inpainter)):
            if getattr(net, "out_channels", None) != 1:
                raise ValueError(f"cleaning networks must be dense (unet or pconv_unet), got {name!r}")

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Artefact logits ``(B, 1, Y, X)`` of an image on the unit-noise scale (unusable pixels 0)."""
        return self.model(image)

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The clean image predicted from the known pixels (``known`` 1, holes 0); ``(B, 1, Y, X)``."""
        known = known.to(image.dtype)
        if self.mask_as_argument:
            return self.inpainter(image * known, known)
        return self.inpainter(torch.cat([image * known, known], dim=1))

    def clean(
        self, image: torch.Tensor, usable: torch.Tensor, threshold: float, dilation: int
    ) -> dict[str, torch.Tensor]:
        """Probability, the (grown) mask of pixels replaced, and the cleaned image; all ``(B, 1, *spatial)``."""
        usable = usable > 0
        probability = torch.sigmoid(self(image * usable))
        holes = grow(probability > threshold, dilation, self.spatial_dims) | ~usable
        cleaned = torch.where(holes, self.inpaint(image, ~holes), image)  # no branch: one graph for ONNX
        return {"probability": probability, "mask": holes, "cleaned": cleaned}
