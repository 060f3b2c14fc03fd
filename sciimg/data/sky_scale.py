"""The scale a sky network works on: pixel noise of unit variance, with the sky near zero.

With the detector's gain and read noise known (GAIN and RDNOISE header cards, or another
common spelling: :data:`GAIN_CARDS`, :data:`READ_NOISE_CARDS`), pixels go through the
generalised Anscombe transform, which turns Poisson + read noise into noise of unit variance
at every brightness; then a faint galaxy and a bright star core weigh alike in a
squared-error loss. Without them, pixels are standardised by the tile's sky level and
MAD noise. The sky level maps to zero either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits


def anscombe(electrons: np.ndarray, read_noise_e: float) -> np.ndarray:
    """Generalised Anscombe transform of Poisson + Gaussian noise (electrons): unit noise variance."""
    return 2.0 * np.sqrt(np.clip(electrons + 3.0 / 8.0 + read_noise_e**2, 0.0, None))


def inverse_anscombe(values: np.ndarray, read_noise_e: float) -> np.ndarray:
    """Algebraic inverse of :func:`anscombe` (unbiased enough at sky levels above ~20 electrons)."""
    return (np.asarray(values, np.float64) / 2.0) ** 2 - 3.0 / 8.0 - read_noise_e**2


# Header spellings of the detector's gain (electrons/ADU) and read noise (electrons), first found wins:
# IRAF/NOAO and most CCD cameras, SExtractor's EGAIN, HST's ATODGAIN and READNSEA, ESO-style RON.
GAIN_CARDS = ("GAIN", "EGAIN", "CCDGAIN", "GAINA", "ATODGAIN")
READ_NOISE_CARDS = ("RDNOISE", "READNOIS", "RON", "RDNOISEA", "READNSEA")


def _first_number(header: fits.Header, names: tuple[str, ...]) -> float | None:
    """The value of the first of ``names`` that the header holds as a number (or a numeric string)."""
    for name in names:
        try:
            return float(header[name])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def detector_noise(header: fits.Header) -> tuple[float, float]:
    """Gain (electrons/ADU) and read noise (electrons) from the header (:data:`GAIN_CARDS`,
    :data:`READ_NOISE_CARDS`); NaN when either is missing or the gain is not positive."""
    gain, read_noise = _first_number(header, GAIN_CARDS), _first_number(header, READ_NOISE_CARDS)
    if gain is None or read_noise is None or not gain > 0 or read_noise < 0:
        return float("nan"), float("nan")
    return gain, read_noise


@dataclass
class TileScale:
    """Forward and inverse map between ADU and the network's scale for one tile or image."""

    background: float
    sigma: float
    gain: float = float("nan")
    read_noise_e: float = float("nan")

    @property
    def stabilised(self) -> bool:
        return bool(np.isfinite(self.gain) and np.isfinite(self.read_noise_e))

    def forward(self, adu: np.ndarray) -> np.ndarray:
        if self.stabilised:
            zero = anscombe(np.asarray(self.background * self.gain), self.read_noise_e)
            return (anscombe(adu * self.gain, self.read_noise_e) - zero).astype(np.float32)
        return ((adu - self.background) / self.sigma).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        if self.stabilised:
            zero = anscombe(np.asarray(self.background * self.gain), self.read_noise_e)
            return (inverse_anscombe(values + zero, self.read_noise_e) / self.gain).astype(np.float32)
        return (values * self.sigma + self.background).astype(np.float32)


STRETCH_SOFTENING = 10.0  # noise units below which the detection stretch is linear


def asinh_stretch(values: np.ndarray, softening: float = STRETCH_SOFTENING) -> np.ndarray:
    """``s asinh(z / s)``: linear for faint pixels (noise units), logarithmic for bright cores, like a display."""
    return (softening * np.arcsinh(np.asarray(values) / softening)).astype(np.float32)
