"""Input normalisation, fitted on the training split and stored with the data and the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

KINDS = ("standard", "asinh")


@dataclass(frozen=True)
class Normalisation:
    """``(f(x) - mean) / std`` with ``f`` the identity (``standard``) or ``asinh(x / scale)``.

    Cells outside ``valid`` (e.g. grid cells with no camera pixel) are set to 0 afterwards.
    """

    kind: str
    mean: float
    std: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"normalisation kind must be one of {list(KINDS)}, got {self.kind!r}")
        if not self.std > 0:
            raise ValueError(f"normalisation std must be positive, got {self.std!r}")

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return np.arcsinh(x / self.scale) if self.kind == "asinh" else x

    @classmethod
    def fit(cls, images: np.ndarray, kind: str, valid: np.ndarray | None = None, scale: float = 1.0) -> Normalisation:
        """Fit mean and std on (training) images, over valid cells only."""
        probe = cls(kind, 0.0, 1.0, scale)
        values = probe._forward(np.asarray(images, np.float64))
        if valid is not None:
            values = values[..., valid]
        return cls(kind, float(values.mean()), float(values.std()) or 1.0, scale)

    def __call__(self, images: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Normalise ``images``; ``valid`` broadcasts against the trailing spatial axes."""
        out = ((self._forward(images) - self.mean) / self.std).astype(np.float32)
        if valid is not None:
            out = np.where(valid, out, np.float32(0.0))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON attributes and model cards."""
        return asdict(self)
