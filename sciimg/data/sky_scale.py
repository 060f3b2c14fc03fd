"""The scale a sky network works on: pixel noise of unit variance, with the sky near zero.

With the detector's gain and read noise known (given by the user, or GAIN and RDNOISE
header cards or another common spelling: :data:`GAIN_CARDS`, :data:`READ_NOISE_CARDS`;
:func:`resolve_detector_noise`), pixels go through the generalised Anscombe transform, which
turns Poisson + read noise into noise of unit variance at every brightness; then a faint
galaxy and a bright star core weigh alike in a squared-error loss. Without them, pixels are
standardised by the tile's sky level and MAD noise. The sky level maps to zero either way.
The sky level and noise of a whole image come from sampled rows (:func:`sampled_noise_level`,
:func:`sampled_pixel_noise`), so memory does not grow with the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from sciimg.errors import InputError
from sciimg.io.fits import FitsImage, Region

MAD_TO_STD = 1.482602218505602  # the standard deviation of a Gaussian over its median absolute deviation


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


def _first_card(
    header: fits.Header, names: tuple[str, ...], where: str, usable: Callable[[float], bool], meaning: str
) -> tuple[str, float] | None:
    """The name and value of the first of ``names`` the header holds; None when it holds none.

    Raises:
        InputError: the first card present is not a number ``usable`` accepts (``where`` names the file).
    """
    for name in names:
        if name not in header:
            continue
        try:
            value = float(header[name])
        except (TypeError, ValueError):
            value = float("nan")
        if not usable(value):
            raise InputError(
                f"{where}: header card {name} = {header[name]!r} is not {meaning}; "
                "fix the header, or give the gain and read noise yourself (--gain, --read-noise)"
            )
        return name, value
    return None


def _noise_cards(header: fits.Header, where: str) -> tuple[tuple[str, float], tuple[str, float]] | None:
    gain = _first_card(header, GAIN_CARDS, where, lambda v: 0 < v < math.inf, "a gain above 0 electrons/ADU")
    read_noise = _first_card(header, READ_NOISE_CARDS, where, lambda v: 0 <= v < math.inf, "a read noise in electrons")
    return (gain, read_noise) if gain is not None and read_noise is not None else None


def detector_noise(header: fits.Header, where: str = "the image") -> tuple[float, float]:
    """Gain (electrons/ADU) and read noise (electrons) from the header (:data:`GAIN_CARDS`,
    :data:`READ_NOISE_CARDS`); NaN when either is missing.

    Raises:
        InputError: a card is there but not a usable number (``where`` names the file).
    """
    cards = _noise_cards(header, where)
    return (cards[0][1], cards[1][1]) if cards is not None else (float("nan"), float("nan"))


@dataclass(frozen=True)
class DetectorNoise:
    """Gain (electrons/ADU) and read noise (electrons) of an image, and where they come from (NaN: unknown)."""

    gain: float
    read_noise_e: float
    origin: str

    @property
    def known(self) -> bool:
        return math.isfinite(self.gain) and math.isfinite(self.read_noise_e)


def resolve_detector_noise(
    header: fits.Header, gain: float | None = None, read_noise: float | None = None, where: str = "the image"
) -> DetectorNoise:
    """The detector's noise from, in order: ``gain`` and ``read_noise`` (the user's), the header's cards.

    Raises:
        InputError: only one of ``gain`` and ``read_noise`` given, a gain not above 0 or a
            negative read noise, or a header card that is not a usable number (``where`` names the file).
    """
    if gain is not None or read_noise is not None:
        if gain is None or read_noise is None:
            raise InputError(f"{where}: give both the gain (electrons/ADU) and the read noise (electrons), or neither")
        if not gain > 0 or not read_noise >= 0:
            raise InputError(f"{where}: gain must be above 0 and read noise at least 0, got {gain}, {read_noise}")
        return DetectorNoise(float(gain), float(read_noise), "given by the user")
    cards = _noise_cards(header, where)
    if cards is not None:
        (gain_card, gain), (noise_card, noise) = cards
        return DetectorNoise(gain, noise, f"header cards {gain_card} and {noise_card}")
    return DetectorNoise(float("nan"), float("nan"), "unknown: no gain and read noise given, none in the header")


def overscan_pedestal(source: FitsImage) -> tuple[float, str]:
    """The bias level (ADU) of a raw CCD frame: the median of its overscan strip (``BIASSEC``).

    A frame without an overscan strip (no ``BIASSEC``, or processed: see
    :data:`sciimg.io.fits.PROCESSED_CARDS`) has a pedestal of 0. Poisson noise counts electrons
    above the bias, so the Anscombe scale must not count the bias as signal.
    """
    strip = source.overscan
    if strip is None:
        return 0.0, ""
    values = source.read(strip)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise InputError(f"{source.path}: the overscan strip BIASSEC has no finite pixel")
    pedestal = float(np.median(values))
    section = f"[{strip.x0 + 1}:{strip.x1},{strip.y0 + 1}:{strip.y1}]"
    return pedestal, f"bias {pedestal:.6g} ADU from the overscan strip BIASSEC {section}"


def noise_level(values: np.ndarray) -> tuple[float, float]:
    """Sky level (median) and noise (MAD standard deviation) of the finite values among ~16k evenly spaced pixels."""
    sample = values.ravel()[:: max(1, values.size // 16384)]
    finite = sample[np.isfinite(sample)]
    if finite.size < 16:  # a mostly masked tile: every usable pixel
        finite = values[np.isfinite(values)]
    if finite.size < 16:
        return 0.0, 1.0
    median = np.median(finite)
    sigma = float(np.median(np.abs(finite - median)) * MAD_TO_STD)
    return float(median), sigma if sigma > 0 else 1.0


def sampled_noise_level(source: FitsImage, n_rows: int = 64) -> tuple[float, float]:
    """Sky level and noise of an image from ``n_rows`` evenly spaced rows (bounded memory)."""
    rows = np.unique(np.linspace(0, source.shape[0] - 1, min(n_rows, source.shape[0])).astype(int))
    values = []
    for y in rows:
        region = Region(int(y), int(y) + 1, 0, source.shape[1])
        row = source.read(region)
        values.append(np.where(source.bad_pixels(region, row), np.nan, row))
    values = np.concatenate(values)
    if np.isfinite(values).sum() < 16:
        raise InputError(f"{source.path}: image has (almost) no usable pixel: all NaN, inf or flagged bad")
    return noise_level(values)


def sampled_pixel_noise(source: FitsImage, n_bands: int = 8, band_rows: int = 64) -> float:
    """Pixel-to-pixel noise of an image: the median over ``n_bands`` evenly spaced bands of rows of
    scikit-image's wavelet noise estimate (Donoho's MAD of the finest diagonal coefficients).

    Unlike the MAD of the pixel values, it does not grow with a nebula, a sky gradient or crowded
    sources, which a constant-noise model must not take for noise. Bad pixels are set to the
    band's median first.
    """
    from skimage.restoration import estimate_sigma  # scikit-image: only for images without gain

    rows = min(band_rows, source.shape[0])
    starts = np.unique(np.linspace(0, source.shape[0] - rows, min(n_bands, source.shape[0] // rows or 1)).astype(int))
    estimates = []
    for start in starts:
        region = Region(int(start), int(start) + rows, 0, source.shape[1])
        band = source.read(region).astype(np.float64)
        usable = ~source.bad_pixels(region, band)
        if usable.sum() >= 16 and min(band.shape) >= 2:
            estimates.append(estimate_sigma(np.where(usable, band, np.median(band[usable]))))
    if not estimates or not np.median(estimates) > 0:
        raise InputError(f"{source.path}: no usable pixel-to-pixel noise (too few usable pixels, or a constant image)")
    return float(np.median(estimates))


@dataclass
class TileScale:
    """Forward and inverse map between ADU and the network's scale for one tile or image."""

    background: float
    sigma: float
    gain: float = float("nan")
    read_noise_e: float = float("nan")
    pedestal: float = 0.0  # the bias (ADU) the Anscombe scale takes off: electrons are gain x (ADU - pedestal)

    @property
    def stabilised(self) -> bool:
        return bool(np.isfinite(self.gain) and np.isfinite(self.read_noise_e))

    def _electrons(self, adu: np.ndarray) -> np.ndarray:
        return (np.asarray(adu) - self.pedestal) * self.gain

    def forward(self, adu: np.ndarray) -> np.ndarray:
        if self.stabilised:
            zero = anscombe(self._electrons(self.background), self.read_noise_e)
            return (anscombe(self._electrons(adu), self.read_noise_e) - zero).astype(np.float32)
        return ((adu - self.background) / self.sigma).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        if self.stabilised:
            zero = anscombe(self._electrons(self.background), self.read_noise_e)
            electrons = inverse_anscombe(values + zero, self.read_noise_e)
            return (electrons / self.gain + self.pedestal).astype(np.float32)
        return (values * self.sigma + self.background).astype(np.float32)


STRETCH_SOFTENING = 10.0  # noise units below which the detection stretch is linear


def asinh_stretch(values: np.ndarray, softening: float = STRETCH_SOFTENING) -> np.ndarray:
    """``s asinh(z / s)``: linear for faint pixels (noise units), logarithmic for bright cores, like a display."""
    return (softening * np.arcsinh(np.asarray(values) / softening)).astype(np.float32)
