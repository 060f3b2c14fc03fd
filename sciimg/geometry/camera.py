"""A Cherenkov camera description: pixel positions on the focal plane and the optics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pixel centres (m, focal plane), pixel area (m^2) and equivalent focal length (m)."""

    name: str
    pix_x: np.ndarray
    pix_y: np.ndarray
    pix_area: np.ndarray
    focal_length: float
    pix_rotation_deg: float = 0.0

    @property
    def n_pixels(self) -> int:
        """Number of pixels."""
        return len(self.pix_x)

    def to_degrees(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel centres as field-of-view angles in degrees."""
        scale = np.degrees(1.0 / self.focal_length)
        return self.pix_x * scale, self.pix_y * scale
