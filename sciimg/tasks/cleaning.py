"""Artefact cleaning: a mask network finds cosmic rays, hot pixels, bad columns and trails; an inpainter fills them.

Two dense networks trained together on the sum of their losses (their parameters are
disjoint, so each follows its own term):

* ``model`` (the detector): image -> logit per pixel that it is an artefact (binary cross
  entropy on labelled pixels; saturated star cores and unusable pixels count for nothing);
* ``inpainter``: image with holes zeroed + the known-pixel mask -> the clean image, with
  the loss on the holes only. During training the holes are the true artefacts (grown as
  at inference) and random cosmic-ray-shaped holes, so the inpainter never depends on
  what the detector misses.

At inference (:meth:`CleaningTask.clean`) the detector's probability is thresholded at
the value calibrated on the validation split, the mask is grown, and the inpainter fills
it; every other pixel keeps its value.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from sciimg.nets import build, takes_mask
from sciimg.tasks.base import BaseTask

MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}


def grow(mask: torch.Tensor, pixels: int, spatial_dims: int = 2) -> torch.Tensor:
    """A boolean ``(B, 1, *spatial)`` mask grown by ``pixels`` along every axis (diagonals included)."""
    if pixels <= 0:
        return mask
    return MAX_POOL[spatial_dims](mask.float(), 2 * pixels + 1, stride=1, padding=pixels) > 0


class CleaningTask(BaseTask):
    """Artefact detection (``model``) and inpainting (``inpainter``) in one module.

    Args:
        backbone, backbone_options: the detector, a dense backbone (``unet``).
        inpaint_backbone, inpaint_backbone_options: the inpainter (``unet``, fed the
            known-pixel mask as a channel, or ``pconv_unet``, fed it as partial-convolution mask).
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`.
    """

    def __init__(
        self,
        backbone: str = "unet",
        inpaint_backbone: str = "unet",
        inpaint_backbone_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.model = build(hp.backbone, hp.spatial_dims, hp.in_channels, out_channels=1, **(hp.backbone_options or {}))
        self.mask_as_argument = takes_mask(hp.inpaint_backbone)
        channels = hp.in_channels * (1 if self.mask_as_argument else 2)
        options = hp.inpaint_backbone_options or {}
        self.inpainter = build(hp.inpaint_backbone, hp.spatial_dims, channels, out_channels=1, **options)
        for name, net in (("backbone", self.model), ("inpaint_backbone", self.inpainter)):
            if getattr(net, "out_channels", None) != 1:
                raise ValueError(f"{name} must be a dense network (unet or pconv_unet), got {getattr(hp, name)!r}")

    def configure_losses(self) -> None:
        self.detection_loss = nn.BCEWithLogitsLoss(reduction="none")

    def configure_metrics(self) -> None:
        # No AUROC here: under deterministic algorithms torchmetrics bins it with a (pixels x bins) table.
        metrics = torchmetrics.MetricCollection(
            {"hole_rmse": torchmetrics.MeanSquaredError(squared=False), "detection_bce": torchmetrics.MeanMetric()}
        )
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
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
        holes = grow(probability > threshold, dilation, self.hparams.spatial_dims) | ~usable
        cleaned = image
        if holes.any():
            cleaned = torch.where(holes, self.inpaint(image, ~holes), image)
        return {"probability": probability, "mask": holes, "cleaned": cleaned}

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        image, usable = batch["image"], batch["mask"]
        logits = self(image * usable)
        labelled = batch["label_valid"].to(logits.dtype)
        detection = (self.detection_loss(logits, batch["labels"]) * labelled).sum() / labelled.sum().clamp(min=1)
        holes = batch["holes"] & batch["valid"]
        filled = self.inpaint(image, (usable > 0) & ~batch["holes"])
        weight = holes.to(filled.dtype)
        inpainting = (((filled - batch["target"]) ** 2) * weight).sum() / weight.sum().clamp(min=1)
        loss = detection + inpainting  # disjoint parameters: each network follows its own term
        metrics = self.metrics[f"{stage}_metrics"]
        if holes.any():
            metrics["hole_rmse"].update(filled.detach()[holes], batch["target"][holes])
        metrics["detection_bce"].update(detection.detach(), labelled.sum())
        self.log_stage(stage, loss, len(image))
        return loss
