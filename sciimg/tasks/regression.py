"""Scalar regression, optionally in log10 space and with a per-sample uncertainty."""

from __future__ import annotations

import math
from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.nets import GlobalPoolHead, build_encoder
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

    def configure_models(self) -> None:
        hp = self.hparams
        encoder = build_encoder(hp.backbone, hp.spatial_dims, hp.in_channels, **(hp.backbone_options or {}))
        outputs = self.n_main_outputs + len(hp.aux_targets or [])
        head = GlobalPoolHead(hp.spatial_dims, encoder.out_channels, outputs, hp.head_hidden, hp.head_dropout)
        self.model = nn.Sequential(encoder, head)

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

    @property
    def n_main_outputs(self) -> int:
        """Head outputs for the target: mean, and log-variance when heteroscedastic."""
        return 2 if self.hparams.heteroscedastic else 1

    def encode_target(self, target: torch.Tensor) -> torch.Tensor:
        """Physical target -> the space the network regresses in."""
        return torch.log10(target) if self.hparams.target_log10 else target

    def decode(self, mean: torch.Tensor, std: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network-space mean/std -> physical mean/std (delta method for log10)."""
        if not self.hparams.target_log10:
            return mean, std
        value = 10.0**mean
        return value, None if std is None else value * math.log(10.0) * std

    def predict_encoded(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean and std (None without the heteroscedastic head) in network space."""
        return self._split_main(self(x))

    def _split_main(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.hparams.heteroscedastic:
            mean, log_var = out[:, 0], out[:, 1].clamp(-20.0, 20.0)
            return mean, torch.exp(0.5 * log_var)
        return out[:, 0], None

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        target = self.encode_target(batch["target"].float())
        out = self(batch["image"])
        mean, std = self._split_main(out)
        loss = self.loss(mean, target, std**2) if std is not None else self.loss(mean, target)
        if self.hparams.aux_targets:
            aux_loss = nn.functional.mse_loss(out[:, self.n_main_outputs :], batch["aux"].float())
            self.log(f"{stage}_aux_mse", aux_loss, batch_size=len(target), on_epoch=True, on_step=False)
            loss = loss + self.hparams.aux_weight * aux_loss
        self.metrics[f"{stage}_metrics"].update(mean.detach(), target)
        self.log_stage(stage, loss, len(target))
        return loss

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int = 0) -> dict[str, torch.Tensor]:
        mean, std = self.decode(*self.predict_encoded(batch["image"]))
        result = {"prediction": mean}
        if std is not None:
            result["std"] = std
        return result
