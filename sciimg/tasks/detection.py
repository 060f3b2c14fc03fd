"""Source detection by centre points: a dense network predicts a heatmap, sub-pixel offsets and fluxes.

One dense backbone (``unet``) with four output channels per pixel
(:data:`sciimg.predictors.detection.CHANNELS`): the logit that a source is centred there,
its offset from the pixel centre (y, x), and the natural log of its flux in units of the
image noise. Training follows CenterNet
(Zhou et al. 2019): a penalty-reduced focal loss on the heatmap, normalised by the number
of sources, and L1 losses on offsets and log fluxes at the sources' centre pixels.
Sources are read off as local maxima of the heatmap (:mod:`sciimg.inference.sky_detect`),
so two sources a few pixels apart give two peaks: the heatmap deblends by construction.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from sciimg.predictors.detection import HEAT, LOG_FLUX, OFFSET_X, OFFSET_Y, DetectionPredictor
from sciimg.tasks.base import BaseTask


def focal_heatmap_loss(
    logits: torch.Tensor,
    heatmap: torch.Tensor,
    centres: torch.Tensor,
    counted: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 4.0,
) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss summed over ``counted`` pixels, divided by the number of centres."""
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = log_p.exp()
    positive = centres & counted
    negative = ~centres & counted
    pos = ((1 - p) ** alpha * log_p)[positive].sum()
    neg = ((1 - heatmap) ** beta * p**alpha * log_not_p)[negative].sum()
    return -(pos + neg) / positive.sum().clamp(min=1)


class DetectionTask(BaseTask):
    """Centre-point source detection with offsets and fluxes (see the module docstring).

    Args:
        backbone, backbone_options: a dense backbone (``unet``).
        offset_weight, flux_weight: weights of the L1 terms next to the heatmap's focal loss.
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`.
    """

    predictor_class = DetectionPredictor

    def __init__(
        self,
        backbone: str = "unet",
        offset_weight: float = 1.0,
        flux_weight: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)

    def configure_losses(self) -> None:
        self.heatmap_loss = focal_heatmap_loss

    def configure_metrics(self) -> None:
        terms = ("heatmap_focal", "offset_l1", "log_flux_l1")
        metrics = torchmetrics.MetricCollection({name: torchmetrics.MeanMetric() for name in terms})
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        usable = batch["mask"] > 0
        out = self(batch["image"] * usable)
        centres = batch["centres"] & usable
        counted = usable & ~batch["ignore"]
        heat = self.heatmap_loss(out[:, HEAT : HEAT + 1], batch["heatmap"], centres, counted)
        n_centres = centres.sum().clamp(min=1)
        where = centres.expand(-1, 2, *centres.shape[2:])
        offset = (out[:, OFFSET_Y : OFFSET_X + 1] - batch["offset"]).abs()[where].sum() / n_centres
        flux = (out[:, LOG_FLUX : LOG_FLUX + 1] - batch["log_flux"]).abs()[centres].sum() / n_centres
        loss = heat + self.hparams.offset_weight * offset + self.hparams.flux_weight * flux
        metrics = self.metrics[f"{stage}_metrics"]
        for name, value in (("heatmap_focal", heat), ("offset_l1", offset), ("log_flux_l1", flux)):
            metrics[name].update(value.detach(), n_centres)
        self.log_stage(stage, loss, len(out))
        return loss
