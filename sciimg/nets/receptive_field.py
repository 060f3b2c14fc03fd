"""Receptive field computed from layer geometry (kernel, stride, padding), path by path.

The input interval seen by one output position is propagated backwards through every
path of the network; branches (residual, Inception, U-Net skips) take the union.
"""

from __future__ import annotations

import math

from torch import nn

from sciimg.nets.layers import AvgPool, Conv, ConvTranspose, MaxPool

_WINDOWED = (*Conv.values(), *MaxPool.values(), *AvgPool.values())
_TRANSPOSED = tuple(ConvTranspose.values())


def _axis(value: int | tuple[int, ...], axis: int) -> int:
    return value if isinstance(value, int) else value[axis]


def input_interval(module: nn.Module, lo: int, hi: int, axis: int) -> tuple[int, int]:
    """Input positions ``[lo', hi']`` (along ``axis``) that output positions ``[lo, hi]`` see."""
    if isinstance(module, _WINDOWED):
        k, s = _axis(module.kernel_size, axis), _axis(module.stride, axis)
        p = _axis(module.padding, axis)
        d = _axis(getattr(module, "dilation", 1), axis)
        return lo * s - p, hi * s - p + d * (k - 1)
    if isinstance(module, _TRANSPOSED):
        k, s, p = module.kernel_size[axis], module.stride[axis], module.padding[axis]
        return math.ceil((lo + p - k + 1) / s), (hi + p) // s
    if isinstance(module, nn.Upsample) and module.mode == "nearest":
        s = int(module.scale_factor if isinstance(module.scale_factor, (int, float)) else module.scale_factor[axis])
        return lo // s, hi // s
    paths = getattr(module, "receptive_field_paths", None)
    if paths is not None:
        intervals = [_through_path(path, lo, hi, axis) for path in paths()]
        return min(i[0] for i in intervals), max(i[1] for i in intervals)
    children = list(module.children())
    if children:
        return _through_path(children, lo, hi, axis)
    return lo, hi  # point-wise layer: norm, activation, dropout, identity


def _through_path(path: list[nn.Module], lo: int, hi: int, axis: int) -> tuple[int, int]:
    for module in reversed(path):
        lo, hi = input_interval(module, lo, hi, axis)
    return lo, hi


def receptive_field(module: nn.Module, position: int, spatial_dims: int) -> tuple[int, ...]:
    """Receptive-field size per axis of the output unit at ``position`` (ignoring borders)."""
    sizes = []
    for axis in range(spatial_dims):
        lo, hi = input_interval(module, position, position, axis)
        sizes.append(hi - lo + 1)
    return tuple(sizes)
