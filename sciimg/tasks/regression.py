"""Scalar regression, optionally in log10 space and with a per-sample uncertainty."""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.predictors.regression import RegressionPredictor
from sciimg.tasks.base import BaseTask


class RegressionTask(BaseTask):
    """Regress one scalar per image.

    Args:
        target_log10: learn ``log10(target)`` (for quantities spanning decades, e.g. energy).
        heteroscedastic: predict a mean and a log-variance and train with the Gaussian NLL,
            so each prediction carries an uncertainty.
        head_hidden: width of the hidden layer of the head (0: linear head).
        head_dropout: dropout before the last layer of the head.
        aux_targets: extra per-sample quantities (store meta columns, e.g.
            ``true_impact_distance``) the head also regresses, standardised, to help the
            network learn the shower geometry; they are not part of the predictions.
        aux_weight: weight of the auxiliary mean-squared error in the loss.
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`.
    """

    predictor_class = RegressionPredictor
    predictor: RegressionPredictor

    def __init__(
        self,
        target_log10: bool = True,
        heteroscedastic: bool = False,
        head_hidden: int = 0,
        head_dropout: float = 0.0,
        aux_targets: list[str] | None = None,
        aux_weight: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)

    def configure_losses(self) -> None:
        self.loss = nn.GaussianNLLLoss(full=True) if self.hparams.heteroscedastic else nn.MSELoss()

    def configure_metrics(self) -> None:
        metrics = torchmetrics.MetricCollection(
            {
                "mae": torchmetrics.MeanAbsoluteError(),
                "rmse": torchmetrics.MeanSquaredError(squared=False),
            }
        )
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        target = self.predictor.encode_target(batch["target"].float())
        out = self(batch["image"])
        mean, std = self.predictor.split(out)
        loss = self.loss(mean, target, std**2) if std is not None else self.loss(mean, target)
        if self.hparams.aux_targets:
            aux_loss = nn.functional.mse_loss(out[:, self.predictor.n_main_outputs :], batch["aux"].float())
            self.log(f"{stage}_aux_mse", aux_loss, batch_size=len(target), on_epoch=True, on_step=False)
            loss = loss + self.hparams.aux_weight * aux_loss
        self.metrics[f"{stage}_metrics"].update(mean.detach(), target)
        self.log_stage(stage, loss, len(target))
        return loss
