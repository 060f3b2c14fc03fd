"""A simulated hexagonal-pixel camera, shaped like the LST camera by default."""

from __future__ import annotations

import numpy as np

from sciimg.geometry.camera import Camera


def hexagonal_camera(
    n_pixels: int = 1855,
    pitch_m: float = 0.05,
    rotation_deg: float = 10.9,
    focal_length_m: float = 28.0,
    name: str = "SimHexCam",
) -> Camera:
    """Return the ``n_pixels`` hexagonal-lattice pixels closest to the centre (a round camera).

    The lattice is rotated by ``rotation_deg`` (real cameras are: LST's pixels sit at
    100.9 deg, i.e. 40.9 deg modulo the lattice's 60-deg symmetry).
    """
    if n_pixels < 7:
        raise ValueError(f"n_pixels must be at least 7, got {n_pixels!r}")
    extent = int(np.sqrt(n_pixels)) + 2
    q, r = np.meshgrid(np.arange(-extent, extent + 1), np.arange(-extent, extent + 1))
    x = pitch_m * (q + r / 2.0).ravel()
    y = pitch_m * (np.sqrt(3.0) / 2.0 * r).ravel()
    order = np.lexsort((np.arctan2(y, x), np.round(np.hypot(x, y), 9)))[:n_pixels]
    angle = np.radians(rotation_deg)
    pix_x = np.cos(angle) * x[order] - np.sin(angle) * y[order]
    pix_y = np.sin(angle) * x[order] + np.cos(angle) * y[order]
    area = np.full(n_pixels, np.sqrt(3.0) / 2.0 * pitch_m**2)
    return Camera(name, pix_x, pix_y, area, focal_length_m, rotation_deg)
