"""Partial-convolution U-Net for inpainting (Liu et al. 2018), in 2D and 3D.

A partial convolution sees only valid inputs: it convolves ``x * mask``, rescales by
``window size / valid inputs in the window`` and marks its output valid where the window
held at least one valid input. Holes shrink layer by layer, so no value is ever made up
from the zeros that stand in for missing data. Input sizes need not be multiples of the
total stride: the padding added is simply invalid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sciimg.nets.layers import Conv, activation, check_spatial_dims, init_weights, norm_layer


class PartialConv(nn.Module):
    """Convolution renormalised to the valid inputs of each window; returns ``(y, new_mask)``.

    ``mask`` has one channel (shared by all input channels) or one per input channel.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1
    ) -> None:
        super().__init__()
        self.conv = Conv[spatial_dims](in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("window", torch.ones(1, 1, *([kernel_size] * spatial_dims)), persistent=False)
        self.spatial_dims, self.stride = spatial_dims, stride

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv = F.conv2d if self.spatial_dims == 2 else F.conv3d
        with torch.no_grad():
            window = self.window.to(x.dtype)
            mask = mask.to(x.dtype)
            counts = conv(mask.sum(1, keepdim=True), window, stride=self.stride, padding=window.shape[-1] // 2)
            valid = (counts > 0).to(x.dtype)
            ratio = window.numel() * mask.shape[1] / counts.clamp(min=1) * valid
        y = self.conv(x * mask)
        shape = (1, -1) + (1,) * self.spatial_dims
        return (y * ratio + self.bias.view(shape)) * valid, valid


class PartialBlock(nn.Module):
    """Partial convolution, normalisation, activation."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        norm: str,
        act: str | None,
    ) -> None:
        super().__init__()
        self.conv = PartialConv(spatial_dims, in_channels, out_channels, kernel_size, stride)
        self.norm = norm_layer(spatial_dims, norm, out_channels)
        self.act = activation(act) if act else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, mask = self.conv(x, mask)
        return self.act(self.norm(y)), mask


class PartialConvUNet(nn.Module):
    """U-Net of partial convolutions: ``forward(x, mask)`` -> dense output with the input's size.

    Encoder level ``i`` is a partial convolution of kernel ``kernel_sizes[i]`` and stride
    ``strides[i]`` (Liu et al.: 2 everywhere; a first stride of 1 keeps a full-resolution
    level, which fine, sparse gaps such as station networks need). The decoder up-samples
    features and masks (nearest) by the same factor, concatenates the skip and its mask,
    and applies a partial convolution; the last level concatenates the input itself.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        widths: channels of each encoder level.
        kernel_sizes: kernel of each encoder level (default 5 for the first, 3 after).
        strides: stride of each encoder level, 1 or 2 (default 2 everywhere).
        norm, act: normalisation (``group`` works with small batches) and activation.
    """

    takes_mask = True

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128, 128),
        kernel_sizes: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        norm: str = "group",
        act: str = "leaky_relu",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        widths = list(widths)
        kernel_sizes = list(kernel_sizes or [5] + [3] * (len(widths) - 1))
        strides = list(strides or [2] * len(widths))
        for name, values in (("kernel_sizes", kernel_sizes), ("strides", strides)):
            if len(values) != len(widths):
                raise ValueError(f"{name} must have one entry per width ({len(widths)}), got {values}")
        if not set(strides) <= {1, 2}:
            raise ValueError(f"strides must be 1 or 2, got {strides}")
        self.encoder = nn.ModuleList()
        channels = in_channels
        for width, kernel, stride in zip(widths, kernel_sizes, strides, strict=True):
            self.encoder.append(PartialBlock(spatial_dims, channels, width, kernel, stride, norm, act))
            channels = width
        skips = [in_channels, *widths[:-1]]
        self.decoder = nn.ModuleList()
        for level, skip in reversed(list(enumerate(skips))):
            out = widths[level - 1] if level > 0 else out_channels
            last = level == 0
            self.decoder.append(
                PartialBlock(spatial_dims, channels + skip, out, 3, 1, "none" if last else norm, None if last else act)
            )
            channels = out
        # decoder block k undoes encoder level depth - 1 - k
        self.ups = nn.ModuleList(
            nn.Upsample(scale_factor=2, mode="nearest") if stride == 2 else nn.Identity() for stride in strides[::-1]
        )
        self.multiple = 2 ** strides.count(2)
        self.spatial_dims, self.in_channels, self.out_channels = spatial_dims, in_channels, out_channels
        init_weights(self, act)
        # the output starts at 0 (no anomaly, or no correction to a first guess) rather than at
        # noise amplified by the partial convolutions' rescaling, which training is slow to undo
        nn.init.zeros_(self.decoder[-1].conv.conv.weight)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Dense output for ``x`` with observed cells ``mask`` (one channel or one per channel; None: all)."""
        if mask is None:
            mask = torch.ones_like(x[:, :1])
        size = x.shape[2:]
        pad: list[int] = []
        for length in reversed(size):
            pad += [0, (-length) % self.multiple]
        x, mask = F.pad(x, pad), F.pad(mask.to(x.dtype), pad)
        features = [(x, mask)]
        for block in self.encoder:
            features.append(block(*features[-1]))
        y, m = features.pop()
        for block, up in zip(self.decoder, self.ups, strict=True):
            skip, skip_mask = features.pop()
            y, m = up(y), up(m)
            channel_masks = torch.cat([m.expand(-1, y.shape[1], *m.shape[2:]), _per_channel(skip_mask, skip)], 1)
            y, m = block(torch.cat([y, skip], 1), channel_masks)
        return y[(..., *(slice(0, n) for n in size))]

    def receptive_field_paths(self) -> list[list[nn.Module]]:
        """Every input-to-output path: through the deepest level, and through each skip."""
        depth = len(self.encoder)
        paths = []
        for level in range(depth + 1):  # level 0 is the input, concatenated before the last block
            path: list[nn.Module] = list(self.encoder[:level])
            after = 0 if level == depth else depth - level  # decoder blocks reached through up-sampling
            if level < depth:
                path.append(self.decoder[depth - 1 - level])
            for k in range(after, depth):
                path += [self.ups[k], self.decoder[k]]
            paths.append(path)
        return paths


def _per_channel(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A mask with one channel per channel of ``x``."""
    return mask if mask.shape[1] == x.shape[1] else mask[:, :1].expand(-1, x.shape[1], *mask.shape[2:])


class NormalisedConvolutionFill(nn.Module):
    """Fill gaps by normalised Gaussian convolution (Knutsson & Westin 1993), finest scale first.

    ``fill(x, mask)`` smooths ``x * mask`` and divides by the smoothed mask, per channel and
    per 2-D slice (the last two axes), at widths ``sigma * 4**k`` cells; a cell takes the
    finest scale whose smoothed mask exceeds ``min_weight`` (0 if none). Observed cells keep
    their values. It has no parameters: it gives a network a smooth first guess to correct.
    """

    def __init__(self, sigma: float = 1.0, scales: int = 3, min_weight: float = 0.05) -> None:
        super().__init__()
        self.min_weight = min_weight
        kernels = []
        for k in range(scales):
            s = sigma * 4**k
            radius = int(3 * s)
            x = torch.arange(-radius, radius + 1, dtype=torch.float32)
            kernels.append(torch.exp(-0.5 * (x / s) ** 2))
        self.kernels = [k / k.sum() for k in kernels]

    def _smooth(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        kernel = kernel.to(x)
        n = kernel.numel()
        x = F.conv2d(x, kernel.view(1, 1, 1, n), padding=(0, n // 2))
        return F.conv2d(x, kernel.view(1, 1, n, 1), padding=(n // 2, 0))

    def scales(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The filled field and the smooth estimate at every scale (0 where a scale sees nothing)."""
        shape = x.shape
        flat_x = x.reshape(-1, 1, *shape[-2:])
        flat_m = mask.expand_as(x).reshape(-1, 1, *shape[-2:]).to(x.dtype)
        filled = torch.zeros_like(flat_x)
        done = torch.zeros_like(flat_m, dtype=torch.bool)
        estimates = []
        for kernel in self.kernels:
            weight = self._smooth(flat_m, kernel)
            seen = weight > self.min_weight
            estimate = torch.where(seen, self._smooth(flat_x * flat_m, kernel) / weight.clamp(min=1e-6), 0.0)
            estimates.append(estimate.reshape(shape))
            filled = torch.where(seen & ~done, estimate, filled)
            done |= seen
        filled = torch.where(flat_m > 0, flat_x, filled)
        return filled.reshape(shape), estimates

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.scales(x, mask)[0]
