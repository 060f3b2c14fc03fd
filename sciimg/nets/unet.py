"""U-Net: any registered encoder, a mirrored decoder with skip connections, a dense head."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciimg.nets.heads import DenseHead
from sciimg.nets.layers import ConvNormAct, ConvTranspose, check_spatial_dims, init_weights
from sciimg.nets.registry import build_encoder


class DecoderBlock(nn.Module):
    """Up-sample x2 (transposed convolution), concatenate the skip, then two 3x3 convolutions."""

    def __init__(self, spatial_dims: int, in_channels: int, skip_channels: int, norm: str, act: str) -> None:
        super().__init__()
        self.up = ConvTranspose[spatial_dims](in_channels, skip_channels, 2, stride=2)
        self.convs = nn.Sequential(
            ConvNormAct(spatial_dims, 2 * skip_channels, skip_channels, 3, 1, norm, act),
            ConvNormAct(spatial_dims, skip_channels, skip_channels, 3, 1, norm, act),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """Encoder-decoder for dense outputs (denoising, inpainting, segmentation, heatmaps).

    Inputs of any size are padded up to a multiple of the encoder's total stride and the
    output is cropped back, so the output has the input's spatial shape.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels of the dense head.
        encoder: registered encoder name (see :func:`sciimg.nets.available`).
        encoder_options: options for that encoder (widths, norm, ...).
        norm, act: used by the decoder.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int = 1,
        encoder: str = "resnet18",
        encoder_options: dict[str, Any] | None = None,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()

        check_spatial_dims(spatial_dims)
        self.encoder = build_encoder(encoder, spatial_dims, in_channels, **(encoder_options or {}))
        if self.encoder.strides[0] != 1:
            raise ValueError(
                f"a U-Net needs an encoder whose first stage keeps full resolution, got strides {self.encoder.strides}"
            )
        channels = self.encoder.feature_channels
        self.decoder = nn.ModuleList(
            DecoderBlock(spatial_dims, deep, skip, norm, act)
            for deep, skip in zip(channels[:0:-1], channels[-2::-1], strict=True)
        )
        self.head = DenseHead(spatial_dims, channels[0], out_channels)
        self.multiple = self.encoder.strides[-1]
        self.out_channels = out_channels
        init_weights(self.decoder, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        pad: list[int] = []
        for length in reversed(size):
            pad += [0, (-length) % self.multiple]
        features = self.encoder.forward_features(F.pad(x, pad))
        y = features[-1]
        for block, skip in zip(self.decoder, features[-2::-1], strict=True):
            y = block(y, skip)
        y = self.head(y)
        return y[(..., *(slice(0, n) for n in size))]

    def receptive_field_paths(self) -> list[list[nn.Module]]:
        """Every input-to-output path (one per skip level), for the receptive field."""
        stages = list(self.encoder.stages)
        deepest = len(stages) - 1
        paths = []
        for level in range(deepest + 1):
            path: list[nn.Module] = stages[: level + 1]
            first_block = deepest - 1 - level  # the block whose skip input is this level
            if level < deepest:
                path.append(self.decoder[first_block].convs)
            for block in list(self.decoder)[first_block + 1 :]:
                path += [block.up, block.convs]
            paths.append([*path, self.head])
        return paths
