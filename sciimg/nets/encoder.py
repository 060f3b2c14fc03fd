"""Common shape of every encoder backbone: a list of stages, each returning one feature map."""

from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """Base class: stage 0 runs at full resolution, each later stage halves the size first.

    Subclasses fill ``self.stages`` and ``self.feature_channels`` (channels of each stage's
    output) in ``__init__``.
    """

    stages: nn.ModuleList
    feature_channels: list[int]

    @property
    def out_channels(self) -> int:
        """Channels of the last feature map."""
        return self.feature_channels[-1]

    @property
    def strides(self) -> list[int]:
        """Down-sampling factor of each stage's output relative to the input."""
        return [2**i for i in range(len(self.stages))]

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the output of every stage, shallow to deep (the U-Net skips)."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x
