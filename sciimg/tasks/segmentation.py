"""Semantic segmentation of occupied voxels (or pixels): one class logit per class per voxel.

A dense backbone (``unet``, usually ``spatial_dims=3``) gives ``n_classes`` logits per voxel;
the loss is cross entropy over labelled voxels only (label -1 = empty: no loss, no score),
so empty space neither dominates the loss nor inflates the accuracy.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.predictors.segmentation import SegmentationPredictor
from sciimg.tasks.base import BaseTask

IGNORE = -1


class SegmentationTask(BaseTask):
    """Per-voxel classes of a volume.

    Args:
        backbone, backbone_options: a dense backbone (``unet``).
        n_classes: classes the labels take (0 ... n_classes - 1).
        class_weights: cross-entropy weight per class (default equal); rare classes such as
            Michel electrons may be weighted up.
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`.
    """

    predictor_class = SegmentationPredictor

    def __init__(
        self,
        backbone: str = "unet",
        spatial_dims: int = 3,
        n_classes: int = 6,
        class_weights: list[float] | None = None,
        **kwargs: Any,
    ) -> None:
        if class_weights is not None and len(class_weights) != n_classes:
            raise ValueError(f"class_weights must have n_classes = {n_classes} entries, got {len(class_weights)}")
        super().__init__(backbone=backbone, spatial_dims=spatial_dims, **kwargs)

    def configure_losses(self) -> None:
        weights = self.hparams.class_weights
        self.register_buffer("class_weight", torch.tensor(weights, dtype=torch.float32) if weights else None)

    def configure_metrics(self) -> None:
        n = self.hparams.n_classes
        metrics = torchmetrics.MetricCollection(
            {
                "mean_f1": torchmetrics.classification.MulticlassF1Score(n, average="macro", ignore_index=IGNORE),
                "accuracy": torchmetrics.classification.MulticlassAccuracy(n, average="micro", ignore_index=IGNORE),
            }
        )
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch["image"])
        labels = batch["labels"]
        loss = nn.functional.cross_entropy(logits, labels, weight=self.class_weight, ignore_index=IGNORE)
        if (labels != IGNORE).any():
            self.metrics[f"{stage}_metrics"].update(logits.detach().argmax(1), labels)
        else:
            loss = logits.sum() * 0.0  # a crop without labelled voxels teaches nothing
        self.log_stage(stage, loss, len(logits))
        return loss
