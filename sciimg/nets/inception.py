"""Inception: parallel 1x1, 3x3, 5x5 (as two 3x3) and pooling branches with 1x1 bottlenecks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciimg.nets.encoder import Encoder
from sciimg.nets.layers import ConvNormAct, MaxPool, check_spatial_dims, init_weights


def spatial_conv(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    kernel: int,
    factorised: bool,
    norm: str,
    act: str,
) -> nn.Sequential:
    """A ``kernel``^d convolution, or its factorised form: one 1-D kernel along each axis."""
    if not factorised:
        return nn.Sequential(ConvNormAct(spatial_dims, in_channels, out_channels, kernel, 1, norm, act))
    layers = []
    for axis in range(spatial_dims):
        shape = tuple(kernel if i == axis else 1 for i in range(spatial_dims))
        layers.append(ConvNormAct(spatial_dims, in_channels, out_channels, shape, 1, norm, act))
        in_channels = out_channels
    return nn.Sequential(*layers)


class InceptionModule(nn.Module):
    """Four parallel branches concatenated; each branch outputs ``out_channels // 4``.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels (multiple of 4).
        bottleneck: channels of the 1x1 reductions before the 3x3 and 5x5 branches.
        factorised: replace each k x k convolution by k x 1 then 1 x k (three axis factors in 3D).
        kernel: size of the spatial kernels (3; the 5x5 branch stacks two of them).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        bottleneck: int | None = None,
        factorised: bool = False,
        kernel: int = 3,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"out_channels must be a multiple of 4, got {out_channels!r}")
        branch = out_channels // 4
        reduce = bottleneck or max(branch // 2, 4)
        self.branches = nn.ModuleList(
            [
                ConvNormAct(spatial_dims, in_channels, branch, 1, 1, norm, act),
                nn.Sequential(
                    ConvNormAct(spatial_dims, in_channels, reduce, 1, 1, norm, act),
                    spatial_conv(spatial_dims, reduce, branch, kernel, factorised, norm, act),
                ),
                nn.Sequential(
                    ConvNormAct(spatial_dims, in_channels, reduce, 1, 1, norm, act),
                    spatial_conv(spatial_dims, reduce, branch, kernel, factorised, norm, act),
                    spatial_conv(spatial_dims, branch, branch, kernel, factorised, norm, act),
                ),
                nn.Sequential(
                    MaxPool[spatial_dims](3, stride=1, padding=1),
                    ConvNormAct(spatial_dims, in_channels, branch, 1, 1, norm, act),
                ),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)

    def receptive_field_paths(self) -> list[list[nn.Module]]:
        """Alternative paths from input to output, for the receptive-field calculation."""
        return [[branch] for branch in self.branches]


class Inception(Encoder):
    """Inception encoder: a 3x3 stem, then stages of Inception modules separated by max-pooling.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        modules_per_stage: Inception modules in each stage.
        widths: output channels of each stage (multiples of 4).
        factorised: use the factorised (k x 1, 1 x k) modules.
        kernel: spatial kernel size inside the modules.
        norm, act: as in :class:`~sciimg.nets.layers.ConvNormAct`.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        modules_per_stage: Sequence[int] = (1, 2, 2),
        widths: Sequence[int] = (64, 128, 256),
        factorised: bool = False,
        kernel: int = 3,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        if len(widths) != len(modules_per_stage):
            raise ValueError(f"widths must have one entry per stage ({len(modules_per_stage)}), got {widths!r}")
        self.stages = nn.ModuleList()
        channels = in_channels
        for index, (n_modules, width) in enumerate(zip(modules_per_stage, widths, strict=True)):
            if index == 0:
                layers: list[nn.Module] = [ConvNormAct(spatial_dims, channels, width, 3, 1, norm, act)]
                channels = width
            else:
                layers = [MaxPool[spatial_dims](2)]
            for _ in range(n_modules):
                layers.append(InceptionModule(spatial_dims, channels, width, None, factorised, kernel, norm, act))
                channels = width
            self.stages.append(nn.Sequential(*layers))
        self.feature_channels = list(widths)
        init_weights(self, act)
