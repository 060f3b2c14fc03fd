"""ResNet: basic and bottleneck residual blocks with projection shortcuts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from sciimg.nets.encoder import Encoder
from sciimg.nets.layers import (
    Conv,
    ConvNormAct,
    activation,
    check_spatial_dims,
    init_weights,
    norm_layer,
)

RESNET_PRESETS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}


class ResidualBlock(nn.Module):
    """Residual block; ``bottleneck`` uses 1x1 -> 3x3 -> 1x1 with 4x channel expansion.

    A 1x1 projection (with the block's stride) replaces the identity shortcut whenever the
    channel count or the spatial size changes.
    """

    expansion: ClassVar[dict[str, int]] = {"basic": 1, "bottleneck": 4}

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        width: int,
        stride: int = 1,
        kind: str = "basic",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kind not in self.expansion:
            raise ValueError(f"block must be one of {sorted(self.expansion)}, got {kind!r}")
        out_channels = width * self.expansion[kind]
        if kind == "basic":
            self.main = nn.Sequential(
                ConvNormAct(spatial_dims, in_channels, width, 3, stride, norm, act, dropout),
                ConvNormAct(spatial_dims, width, out_channels, 3, 1, norm, act=None),
            )
        else:
            self.main = nn.Sequential(
                ConvNormAct(spatial_dims, in_channels, width, 1, 1, norm, act),
                ConvNormAct(spatial_dims, width, width, 3, stride, norm, act, dropout),
                ConvNormAct(spatial_dims, width, out_channels, 1, 1, norm, act=None),
            )
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                Conv[spatial_dims](in_channels, out_channels, 1, stride=stride, bias=False),
                norm_layer(spatial_dims, norm, out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.out_channels = out_channels
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.main(x) + self.shortcut(x))

    def receptive_field_paths(self) -> list[list[nn.Module]]:
        """Alternative paths from input to output, for the receptive-field calculation."""
        return [[self.main], [self.shortcut]]


class ResNet(Encoder):
    """ResNet encoder with a 3x3 stem (no early down-sampling: scientific images are small).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        blocks_per_stage: residual blocks in each stage; stages after the first start with
            a stride-2 block.
        widths: block width of each stage (bottleneck blocks output 4x this).
        block: ``basic`` or ``bottleneck``.
        norm, act, dropout: as in :class:`~sciimg.nets.layers.ConvNormAct`.
        stem_stride: stride of the stem (2 halves a large input, e.g. a whole detector
            volume, before the first stage; dense networks need 1).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        blocks_per_stage: Sequence[int] = RESNET_PRESETS["resnet18"][1],
        widths: Sequence[int] = (64, 128, 256, 512),
        block: str = "basic",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        if len(widths) != len(blocks_per_stage):
            raise ValueError(f"widths must have one entry per stage ({len(blocks_per_stage)}), got {widths!r}")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
        self.stem_stride = stem_stride
        stem = ConvNormAct(spatial_dims, in_channels, widths[0], 3, stem_stride, norm, act)
        self.stages = nn.ModuleList()
        self.feature_channels = []
        channels = widths[0]
        for index, (n_blocks, width) in enumerate(zip(blocks_per_stage, widths, strict=True)):
            layers: list[nn.Module] = [stem] if index == 0 else []
            for block_index in range(n_blocks):
                stride = 2 if index > 0 and block_index == 0 else 1
                unit = ResidualBlock(spatial_dims, channels, width, stride, block, norm, act, dropout)
                layers.append(unit)
                channels = unit.out_channels
            self.stages.append(nn.Sequential(*layers))
            self.feature_channels.append(channels)
        init_weights(self, act)

    @property
    def strides(self) -> list[int]:
        return [self.stem_stride * 2**i for i in range(len(self.stages))]
