"""Artefact cleaning: a mask network finds cosmic rays, hot pixels, bad columns and trails; an inpainter fills them.

Two dense networks trained together on the sum of their losses (their parameters are
disjoint, so each follows its own term):

* ``model`` (the detector): image -> logit per pixel that it is an artefact (binary cross
  entropy on labelled pixels; saturated star cores and unusable pixels count for nothing);
* ``inpainter``: image with holes zeroed + the known-pixel mask -> the clean image, with
  the loss on the holes only. During training the holes are the true artefacts (grown as
  at inference) and random cosmic-ray-shaped holes, so the inpainter never depends on
  what the detector misses.

At inference (:meth:`~sciimg.predictors.cleaning.CleaningPredictor.clean`) the detector's
probability is thresholded at the value calibrated on the validation split, the mask is
grown, and the inpainter fills it; every other pixel keeps its value.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.predictors.cleaning import CleaningPredictor
from sciimg.tasks.base import BaseTask


class CleaningTask(BaseTask):
    """Artefact detection (``model``) and inpainting (``inpainter``) in one module.

    Args:
        backbone, backbone_options: the detector, a dense backbone (``unet``).
        inpaint_backbone, inpaint_backbone_options: the inpainter (``unet``, fed the
            known-pixel mask as a channel, or ``pconv_unet``, fed it as partial-convolution mask).
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`.
    """

    predictor_class = CleaningPredictor
    predictor: CleaningPredictor

    def __init__(
        self,
        backbone: str = "unet",
        inpaint_backbone: str = "unet",
        inpaint_backbone_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)

    def configure_losses(self) -> None:
        self.detection_loss = nn.BCEWithLogitsLoss(reduction="none")

    def configure_metrics(self) -> None:
        # No AUROC here: under deterministic algorithms torchmetrics bins it with a (pixels x bins) table.
        metrics = torchmetrics.MetricCollection(
            {"hole_rmse": torchmetrics.MeanSquaredError(squared=False), "detection_bce": torchmetrics.MeanMetric()}
        )
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        image, usable = batch["image"], batch["mask"]
        logits = self(image * usable)
        labelled = batch["label_valid"].to(logits.dtype)
        detection = (self.detection_loss(logits, batch["labels"]) * labelled).sum() / labelled.sum().clamp(min=1)
        holes = batch["holes"] & batch["valid"]
        filled = self.predictor.inpaint(image, (usable > 0) & ~batch["holes"])
        weight = holes.to(filled.dtype)
        inpainting = (((filled - batch["target"]) ** 2) * weight).sum() / weight.sum().clamp(min=1)
        loss = detection + inpainting  # disjoint parameters: each network follows its own term
        metrics = self.metrics[f"{stage}_metrics"]
        if holes.any():
            metrics["hole_rmse"].update(filled.detach()[holes], batch["target"][holes])
        metrics["detection_bce"].update(detection.detach(), labelled.sum())
        self.log_stage(stage, loss, len(image))
        return loss
