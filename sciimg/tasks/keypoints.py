"""Points of interest in detector volumes (track start and end points) as a heatmap on occupied voxels.

A dense backbone (``unet``, ``spatial_dims=3``) gives one logit per voxel that a keypoint
lies there. Training uses CenterNet's penalty-reduced focal loss (as source detection does)
on occupied voxels only: empty space holds no charge and so no keypoint the data could
show, and would otherwise swamp the loss. Points are read off as local maxima of the
heatmap among occupied voxels (:mod:`sciimg.inference.detector3d_keypoints`).
"""

from __future__ import annotations

import torch
import torchmetrics
from torch import nn

from sciimg.predictors.keypoints import KeypointPredictor
from sciimg.tasks.base import BaseTask
from sciimg.tasks.detection import focal_heatmap_loss


class KeypointTask(BaseTask):
    """Keypoint heatmap of a volume (see the module docstring).

    Arguments are those of :class:`~sciimg.tasks.base.BaseTask`, with a dense backbone
    (``unet``) and ``spatial_dims=3``; the network gives one channel, the keypoint logit.
    """

    predictor_class = KeypointPredictor

    def configure_losses(self) -> None:
        self.heatmap_loss = focal_heatmap_loss

    def configure_metrics(self) -> None:
        metrics = torchmetrics.MetricCollection({"heatmap_focal": torchmetrics.MeanMetric()})
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch["image"])
        occupied = batch["image"] > 0
        loss = self.heatmap_loss(logits, batch["heatmap"], batch["centres"] & occupied, occupied)
        self.metrics[f"{stage}_metrics"]["heatmap_focal"].update(loss.detach(), batch["centres"].sum().clamp(min=1))
        self.log_stage(stage, loss, len(logits))
        return loss
