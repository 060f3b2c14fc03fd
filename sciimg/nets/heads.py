"""Output heads: global pooling + fully connected for scalars, 1x1 convolution for dense maps."""

from __future__ import annotations

import torch
from torch import nn

from sciimg.nets.layers import AdaptiveAvgPool, Conv, activation


class GlobalPoolHead(nn.Module):
    """Global average pooling, then a small fully connected network.

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels of the feature map.
        out_features: outputs per sample (1 for a scalar, 2 for mean + log-variance, K classes).
        hidden: width of one hidden layer (0 for a single linear layer).
        dropout: dropout before the last layer.
        act: activation of the hidden layer.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_features: int,
        hidden: int = 0,
        dropout: float = 0.0,
        act: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [AdaptiveAvgPool[spatial_dims](1), nn.Flatten(1)]
        if hidden:
            layers += [nn.Linear(in_channels, hidden), activation(act)]
            in_channels = hidden
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(in_channels, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DenseHead(nn.Sequential):
    """A 1x1 convolution mapping features to ``out_channels`` per pixel/voxel."""

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int) -> None:
        super().__init__(Conv[spatial_dims](in_channels, out_channels, 1))
