"""VGG: stages of 3x3 convolutions (stride 1, padding 1) separated by 2x2 max-pooling."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from sciimg.nets.encoder import Encoder
from sciimg.nets.layers import ConvNormAct, MaxPool, check_spatial_dims, init_weights

VGG_PRESETS = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
}


class VGG(Encoder):
    """VGG-style encoder.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        convs_per_stage: number of 3x3 convolutions in each stage.
        widths: output channels of each stage (same length as ``convs_per_stage``).
        norm: batch, group, instance or none.
        act: relu, leaky_relu, elu or gelu.
        dropout: channel dropout after each convolution.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        convs_per_stage: Sequence[int] = VGG_PRESETS["vgg11"],
        widths: Sequence[int] = (64, 128, 256, 512, 512),
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        if len(widths) != len(convs_per_stage):
            raise ValueError(f"widths must have one entry per stage ({len(convs_per_stage)}), got {widths!r}")
        self.stages = nn.ModuleList()
        channels = in_channels
        for index, (n_convs, width) in enumerate(zip(convs_per_stage, widths, strict=True)):
            layers: list[nn.Module] = [MaxPool[spatial_dims](2)] if index > 0 else []
            for _ in range(n_convs):
                layers.append(ConvNormAct(spatial_dims, channels, width, 3, 1, norm, act, dropout))
                channels = width
            self.stages.append(nn.Sequential(*layers))
        self.feature_channels = list(widths)
        init_weights(self, act)
