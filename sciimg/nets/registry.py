"""One registry of backbones, chosen by name; options are plain strings, numbers and lists.

The backbones register themselves in :mod:`sciimg.nets` (its ``__init__``), so a network
that builds another by name (a U-Net's encoder) imports this module without a circle.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from sciimg.nets.encoder import Encoder

Builder = Callable[..., nn.Module]
_REGISTRY: dict[str, tuple[Builder, dict[str, Any]]] = {}


def register(name: str, builder: Builder, **preset: Any) -> None:
    """Register ``builder`` (called as ``builder(spatial_dims, in_channels, **options)``)."""
    if name in _REGISTRY:
        raise ValueError(f"backbone {name!r} is already registered")
    _REGISTRY[name] = (builder, preset)


def available() -> list[str]:
    """Names of all registered backbones."""
    return sorted(_REGISTRY)


def build(name: str, spatial_dims: int, in_channels: int, **options: Any) -> nn.Module:
    """Build a registered backbone.

    Args:
        name: one of :func:`available`.
        spatial_dims: 2 or 3.
        in_channels: input channels.
        **options: constructor options (e.g. ``widths``, ``norm``, ``act``); they override
            the preset of ``name``.

    Raises:
        ValueError: unknown name or option.
    """
    if name not in _REGISTRY:
        raise ValueError(f"backbone must be one of {available()}, got {name!r}")
    builder, preset = _REGISTRY[name]
    accepted = [p for p in inspect.signature(builder).parameters if p not in ("spatial_dims", "in_channels")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"options of backbone {name!r} must be among {accepted}, got {unknown}")
    return builder(spatial_dims, in_channels, **{**preset, **options})


def takes_mask(name: str) -> bool:
    """Whether backbone ``name`` takes an observation mask as a second ``forward`` argument."""
    if name not in _REGISTRY:
        raise ValueError(f"backbone must be one of {available()}, got {name!r}")
    return bool(getattr(_REGISTRY[name][0], "takes_mask", False))


def build_encoder(name: str, spatial_dims: int, in_channels: int, **options: Any) -> Encoder:
    """Build a registered backbone that is an encoder (has stages and feature channels)."""
    model = build(name, spatial_dims, in_channels, **options)
    if not isinstance(model, Encoder):
        encoders = [n for n in available() if issubclass(_REGISTRY[n][0], Encoder)]
        raise ValueError(f"encoder must be one of {encoders}, got {name!r}")
    return model
