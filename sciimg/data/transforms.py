"""Input normalisation per channel, fitted on the training split and stored with the data and model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

KINDS = ("standard", "asinh", "none")


@dataclass(frozen=True)
class Normalisation:
    """``(f(x) - mean) / std`` with ``f`` the identity (``standard``) or ``asinh(x / scale)``.

    ``none`` leaves values as they are (for masks).
    """

    kind: str
    mean: float = 0.0
    std: float = 1.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"normalisation kind must be one of {list(KINDS)}, got {self.kind!r}")
        if not self.std > 0:
            raise ValueError(f"normalisation std must be positive, got {self.std!r}")

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return np.arcsinh(x / self.scale) if self.kind == "asinh" else x

    @classmethod
    def fit(cls, values: np.ndarray, kind: str, scale: float = 1.0) -> Normalisation:
        """Fit mean and std on (training) values; ``none`` fits nothing."""
        if kind == "none":
            return cls(kind)
        transformed = cls(kind, scale=scale)._forward(np.asarray(values, np.float64))
        return cls(kind, float(transformed.mean()), float(transformed.std()) or 1.0, scale)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Normalise ``values``."""
        return ((self._forward(values) - self.mean) / self.std).astype(np.float32)


@dataclass(frozen=True)
class ChannelNormalisation:
    """One :class:`Normalisation` per image channel; cells outside ``valid`` are set to 0.

    Images are ``(..., C, *spatial)``; ``valid`` is a boolean array over the spatial axes
    (e.g. grid cells that hold a camera pixel).
    """

    channels: tuple[Normalisation, ...]

    @classmethod
    def fit(cls, images: np.ndarray, kinds: Sequence[str], valid: np.ndarray | None = None) -> ChannelNormalisation:
        """Fit each channel of training ``images`` ``(N, C, *spatial)`` over valid cells only."""
        if images.shape[1] != len(kinds):
            raise ValueError(f"kinds must name one normalisation per channel ({images.shape[1]}), got {list(kinds)}")
        fitted = []
        for channel, kind in enumerate(kinds):
            values = images[:, channel]
            fitted.append(Normalisation.fit(values[..., valid] if valid is not None else values, kind))
        return cls(tuple(fitted))

    def __call__(self, images: np.ndarray, valid: np.ndarray | None = None, spatial_dims: int = 2) -> np.ndarray:
        """Normalise ``images`` ``(..., C, *spatial)`` channel by channel."""
        images = np.asarray(images)
        axis = images.ndim - (valid.ndim if valid is not None else spatial_dims) - 1
        if images.shape[axis] != len(self.channels):
            raise ValueError(f"images must have {len(self.channels)} channels on axis {axis}, got {images.shape}")
        out = np.stack([norm(np.take(images, c, axis=axis)) for c, norm in enumerate(self.channels)], axis=axis)
        if valid is not None:
            out = np.where(valid, out, np.float32(0.0))
        return out.astype(np.float32)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain dicts for JSON attributes and model cards."""
        return [asdict(norm) for norm in self.channels]

    @classmethod
    def from_list(cls, items: Sequence[dict[str, Any]]) -> ChannelNormalisation:
        """Inverse of :meth:`to_list`."""
        return cls(tuple(Normalisation(**item) for item in items))
