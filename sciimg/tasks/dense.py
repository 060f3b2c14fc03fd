"""Image-to-image tasks on masked inputs: inpainting (fill gaps) and denoising.

Batches hold ``image`` and ``mask`` (see :mod:`sciimg.predictors.dense`), and
``target``/``valid`` of the centre step ``(B, 1, Y, X)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.predictors.dense import LOG_VARIANCE_LIMIT, DenoisingPredictor, DensePredictor, InpaintingPredictor, centre
from sciimg.tasks.base import BaseTask

LOSSES = ("l1", "mse")


class DenseTask(BaseTask):
    """Common loss and metrics; subclasses define :meth:`loss_terms` and their predictor's ``compose``.

    Args:
        loss: ``l1`` or ``mse`` per cell.
        hole_weight: weight of unobserved cells in the inpainting loss (observed cells: 1).
        prefill_sigma: if > 0, gaps are first filled by normalised Gaussian convolution
            (:class:`~sciimg.nets.partial_conv.NormalisedConvolutionFill`, finest width in
            cells, three widths 4x apart); the network gets that first guess and the
            estimate at each width as extra, fully valid, channels, and predicts the
            correction to the first guess.
        residual: the network predicts the change to the input's centre step (denoising of
            images with a large dynamic range, such as sky images with bright stars).
        heteroscedastic: the network also gives each cell's log variance, and the loss is the
            Gaussian negative log-likelihood per cell (``loss`` is then not used).
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`; ``backbone`` must be dense
            (``pconv_unet`` or ``unet``).
    """

    predictor_class: type[DensePredictor] = DensePredictor
    predictor: DensePredictor

    def __init__(
        self,
        backbone: str = "pconv_unet",
        loss: str = "mse",
        hole_weight: float = 6.0,
        prefill_sigma: float = 0.0,
        residual: bool = False,
        heteroscedastic: bool = False,
        **kwargs: Any,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        super().__init__(backbone=backbone, **kwargs)

    def configure_losses(self) -> None:
        self.cell_loss = nn.L1Loss(reduction="none") if self.hparams.loss == "l1" else nn.MSELoss(reduction="none")

    def configure_metrics(self) -> None:
        metrics = torchmetrics.MetricCollection({"rmse": torchmetrics.MeanSquaredError(squared=False)})
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def loss_terms(self, cells: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-cell loss weights applied to ``cells`` (the per-cell loss); sum / valid cells."""
        valid = batch["valid"].to(cells.dtype)
        return (cells * valid).sum() / valid.sum().clamp(min=1)

    def scored_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cells the metric is computed on."""
        return batch["valid"]

    def cell_losses(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-cell loss: ``loss`` of the value, or the Gaussian negative log-likelihood (heteroscedastic)."""
        if not self.hparams.heteroscedastic:
            return self.cell_loss(out, target)
        log_variance = out[:, 1:].clamp(-LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT)
        return 0.5 * (log_variance + (target - out[:, :1]) ** 2 * torch.exp(-log_variance))

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self(batch["image"], batch["mask"])
        loss = self.loss_terms(self.cell_losses(out, batch["target"]), batch)
        scored = self.scored_cells(batch)
        if scored.any():
            field = self.predictor.compose(out[:, :1].detach(), batch)
            self.metrics[f"{stage}_metrics"].update(field[scored], batch["target"][scored])
        self.log_stage(stage, loss, len(out))
        return loss


class InpaintingTask(DenseTask):
    """Fill unobserved cells; observed cells keep their values.

    The loss is weighted per cell as in Liu et al. 2018: observed (valid) cells 1, holes
    ``hole_weight``; cells without truth count for nothing. The metric is the RMSE on holes.
    """

    predictor_class = InpaintingPredictor

    def loss_terms(self, cells: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen = centre(batch["mask"], self.hparams.spatial_dims).to(cells.dtype)
        valid = batch["valid"].to(cells.dtype)
        weight = valid * (seen + self.hparams.hole_weight * (1 - seen))
        return (cells * weight).sum() / valid.sum().clamp(min=1)

    def scored_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["valid"] & (centre(batch["mask"], self.hparams.spatial_dims) == 0)


class DenoisingTask(DenseTask):
    """Predict the clean field from a noisy one (supervised: noisy in, clean target)."""

    predictor_class = DenoisingPredictor
