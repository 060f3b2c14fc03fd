"""Training-time augmentation of camera images, in camera-pixel space (before grid mapping).

- Symmetries: a random symmetry of the camera's hexagonal lattice (rotation by a multiple
  of 60 deg, or a reflection) that maps the camera exactly onto itself; energy does not
  change under them, and no pixel is interpolated.
- Night-sky background resampling: extra Poisson photo-electrons at a random rate up to
  ``extra_nsb_pe`` per pixel (minus their mean, as pedestal subtraction does), added to the
  charge channel, so the model sees brighter skies than the simulation's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraAugmentation:
    """Random camera symmetry and extra NSB for ``(C, n_pixels)`` images.

    Attributes:
        permutations: ``(n_symmetries, n_pixels)`` pixel permutations (identity included).
        extra_nsb_pe: upper end of the extra NSB rate (p.e. per pixel); 0 turns it off.
        charge_channel: index of the charge channel (the only one that gets NSB).
    """

    permutations: np.ndarray
    extra_nsb_pe: float = 0.0
    charge_channel: int = 0

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        image = image[:, self.permutations[rng.integers(len(self.permutations))]]
        if self.extra_nsb_pe > 0:
            rate = rng.uniform(0.0, self.extra_nsb_pe)
            image = image.copy()
            image[self.charge_channel] += rng.poisson(rate, image.shape[1]) - rate
        return image.astype(np.float32, copy=False)
