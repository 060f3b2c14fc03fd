"""Scalar regression: an encoder and a pooled head, optionally in log10 space and with a per-sample std."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from sciimg.nets import GlobalPoolHead, build_encoder
from sciimg.predictors.base import Predictor


class RegressionPredictor(Predictor):
    """One scalar per image (and auxiliary outputs that only training reads).

    Args:
        target_log10: the network regresses ``log10(target)``.
        heteroscedastic: the head gives a mean and a log-variance, so each prediction has a std.
        head_hidden: width of the hidden layer of the head (0: linear head).
        head_dropout: dropout before the last layer of the head.
        aux_targets: names of the extra quantities the head also regresses (training only).
        **kwargs: see :class:`~sciimg.predictors.base.Predictor`.
    """

    def __init__(
        self,
        target_log10: bool = True,
        heteroscedastic: bool = False,
        head_hidden: int = 0,
        head_dropout: float = 0.0,
        aux_targets: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_log10 = target_log10
        self.heteroscedastic = heteroscedastic
        self.n_main_outputs = 2 if heteroscedastic else 1
        encoder = build_encoder(self.backbone, self.spatial_dims, self.in_channels, **self.backbone_options)
        outputs = self.n_main_outputs + len(aux_targets or [])
        head = GlobalPoolHead(self.spatial_dims, encoder.out_channels, outputs, head_hidden, head_dropout)
        self.model = nn.Sequential(encoder, head)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network output -> mean and std (None without the heteroscedastic head), in network space."""
        if self.heteroscedastic:
            mean, log_var = out[:, 0], out[:, 1].clamp(-20.0, 20.0)
            return mean, torch.exp(0.5 * log_var)
        return out[:, 0], None

    def encode_target(self, target: torch.Tensor) -> torch.Tensor:
        """Physical target -> the space the network regresses in."""
        return torch.log10(target) if self.target_log10 else target

    def decode(self, mean: torch.Tensor, std: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network-space mean/std -> physical mean/std (delta method for log10)."""
        if not self.target_log10:
            return mean, std
        value = 10.0**mean
        return value, None if std is None else value * math.log(10.0) * std

    def predict(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mean, std = self.decode(*self.split(self(batch["image"])))
        return {"prediction": mean} if std is None else {"prediction": mean, "std": std}
