"""Layer factories keyed by ``spatial_dims``: the only place that knows 2D from 3D."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

Conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
ConvTranspose = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MaxPool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AvgPool = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
AdaptiveAvgPool = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
BatchNorm = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
InstanceNorm = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
Dropout = {1: nn.Dropout1d, 2: nn.Dropout2d, 3: nn.Dropout3d}

NORMS = ("batch", "group", "instance", "none")
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "gelu": nn.GELU,
}
RELU_FAMILY = ("relu", "leaky_relu")


def check_spatial_dims(spatial_dims: int) -> int:
    """Return ``spatial_dims`` if it is 2 or 3, else raise ValueError."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    return spatial_dims


def norm_layer(spatial_dims: int, name: str, channels: int) -> nn.Module:
    """Normalisation layer by name: batch, group (up to 8 groups), instance or none."""
    if name == "batch":
        return BatchNorm[spatial_dims](channels)
    if name == "group":
        return nn.GroupNorm(math.gcd(channels, 8), channels)
    if name == "instance":
        return InstanceNorm[spatial_dims](channels, affine=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {list(NORMS)}, got {name!r}")


def activation(name: str) -> nn.Module:
    """Activation layer by name: relu, leaky_relu, elu or gelu."""
    if name not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def same_padding(kernel_size: int | Sequence[int]) -> int | tuple[int, ...]:
    """Padding that keeps the size for odd kernels at stride 1."""
    if isinstance(kernel_size, int):
        return kernel_size // 2
    return tuple(k // 2 for k in kernel_size)


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation and optional dropout, in that order."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int] = 3,
        stride: int = 1,
        norm: str = "batch",
        act: str | None = "relu",
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = [
            Conv[spatial_dims](
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=same_padding(kernel_size),
                bias=norm == "none",
            ),
            norm_layer(spatial_dims, norm, out_channels),
        ]
        if act is not None:
            layers.append(activation(act))
        if dropout > 0:
            layers.append(Dropout[spatial_dims](dropout))
        super().__init__(*layers)


def init_weights(module: nn.Module, act: str) -> None:
    """He (Kaiming) initialisation for the ReLU family, Xavier for other activations."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, *ConvTranspose.values())):
            if act in RELU_FAMILY:
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity=act)
            else:
                nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
