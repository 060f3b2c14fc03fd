"""Classical denoisers for sky images, as an astronomer would run them.

Every method sees one tile in ADU, its usable-pixel mask, its sky level and noise
(the store's per-tile median and MAD standard deviation). Bad pixels are first replaced by
the median of their usable 5 x 5 neighbours.

* ``gaussian_filter`` and ``median_filter``: width (in pixels) chosen on the train split
  by the PSNR against the clean truth (a fixed 1 px without truth);
* ``wavelet`` (BayesShrink), ``nl_means`` (scikit-image) and ``bm3d`` (the ``bm3d``
  package) assume Gaussian noise of one level; sky images have Poisson noise that grows
  with the signal, so these run on the generalised Anscombe transform of the image (noise
  of unit variance everywhere; gain and read noise from the GAIN/RDNOISE header cards),
  then the algebraic inverse. Without those cards they run on the image itself with the
  tile's noise level.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from sciimg.data.sky_scale import anscombe, inverse_anscombe
from sciimg.io.fits_tiles import write_tile_images
from sciimg.io.store import SampleStore

log = logging.getLogger(__name__)

FILTER_WIDTHS = (0.5, 0.75, 1.0, 1.5, 2.0)


@dataclass
class Tile:
    """One tile and what a denoiser may know about it."""

    image: np.ndarray  # ADU, NaN at bad pixels
    usable: np.ndarray
    background: float
    sigma: float
    gain: float | None = None  # electrons per ADU
    read_noise_e: float | None = None

    def filled(self) -> np.ndarray:
        """The image with unusable pixels replaced by the median of their usable 5 x 5 neighbours."""
        values = masked_median(self.image, self.usable, passes=1)
        return np.where(np.isfinite(values), values, self.background)


def masked_median(image: np.ndarray, known: np.ndarray, size: int = 5, passes: int = 8) -> np.ndarray:
    """Unknown pixels replaced by the median of the known ones in their ``size`` x ``size`` neighbourhood.

    Pixels with no known neighbour are filled on the next pass from those filled before
    (up to ``passes``); any still unknown after that stay NaN.
    """
    values = np.where(known, image, np.nan).astype(np.float64)
    half = size // 2
    for _ in range(passes):
        holes = np.nonzero(np.isnan(values))
        if not holes[0].size:
            break
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(values, half, mode="edge"), (size, size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a window with no known pixel: next pass
            values[holes] = np.nanmedian(windows[holes], axis=(1, 2))
    return values


class SkyDenoiser:
    """Base: :meth:`fit` on train tiles (with clean truth, or None), :meth:`denoise` one tile."""

    def fit(self, tiles: list[Tile], clean: list[np.ndarray] | None) -> SkyDenoiser:
        return self

    def denoise(self, tile: Tile) -> np.ndarray:
        raise NotImplementedError


class FilterDenoiser(SkyDenoiser):
    """A smoothing filter whose width is chosen on the train split."""

    width = 1.0

    def apply(self, image: np.ndarray, width: float) -> np.ndarray:
        raise NotImplementedError

    def fit(self, tiles: list[Tile], clean: list[np.ndarray] | None) -> SkyDenoiser:
        if clean:
            images = [t.filled() for t in tiles]
            errors = [
                np.mean([np.nanmean((self.apply(i, w) - c) ** 2) for i, c in zip(images, clean, strict=True)])
                for w in FILTER_WIDTHS
            ]
            self.width = FILTER_WIDTHS[int(np.argmin(errors))]
        return self

    def denoise(self, tile: Tile) -> np.ndarray:
        return self.apply(tile.filled(), self.width)


class GaussianFilter(FilterDenoiser):
    def apply(self, image: np.ndarray, width: float) -> np.ndarray:
        return ndimage.gaussian_filter(image, width, mode="reflect")


class MedianFilter(FilterDenoiser):
    def apply(self, image: np.ndarray, width: float) -> np.ndarray:
        return ndimage.median_filter(image, size=2 * int(np.ceil(width)) + 1, mode="reflect")


class GaussianNoiseDenoiser(SkyDenoiser):
    """A denoiser for Gaussian noise of unit variance, run on the variance-stabilised tile."""

    def unit_noise(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def denoise(self, tile: Tile) -> np.ndarray:
        image = tile.filled()
        if tile.gain is None or tile.read_noise_e is None:
            scaled = (image - tile.background) / tile.sigma
            return self.unit_noise(scaled) * tile.sigma + tile.background
        stabilised = anscombe(image * tile.gain, tile.read_noise_e)
        offset = float(np.median(stabilised))  # the denoisers prefer values near zero
        result = self.unit_noise(stabilised - offset) + offset
        return inverse_anscombe(result, tile.read_noise_e) / tile.gain


class WaveletDenoiser(GaussianNoiseDenoiser):
    def unit_noise(self, values: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_wavelet

        return denoise_wavelet(values, sigma=1.0, method="BayesShrink", mode="soft", rescale_sigma=False)


class NonLocalMeans(GaussianNoiseDenoiser):
    def unit_noise(self, values: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_nl_means

        return denoise_nl_means(values, patch_size=5, patch_distance=6, h=0.8, sigma=1.0, fast_mode=True)


class Bm3d(GaussianNoiseDenoiser):
    def unit_noise(self, values: np.ndarray) -> np.ndarray:
        import bm3d

        return np.asarray(bm3d.bm3d(values, sigma_psd=1.0), np.float64)


SKY_DENOISERS: dict[str, type[SkyDenoiser]] = {
    "gaussian_filter": GaussianFilter,
    "median_filter": MedianFilter,
    "wavelet": WaveletDenoiser,
    "nl_means": NonLocalMeans,
    "bm3d": Bm3d,
}


def store_tiles(store: SampleStore) -> Iterator[Tile]:
    """Every tile of a store with its sky level, noise, and the GAIN/RDNOISE of its source file."""
    meta = store.meta()
    for row in range(len(store)):
        sample = store[row]
        gain, read_noise = float(meta["gain"][row]), float(meta["read_noise_e"][row])
        known = np.isfinite(gain) and np.isfinite(read_noise)
        yield Tile(
            image=sample["image"][0].astype(np.float64),
            usable=sample["mask"][0].astype(bool) & np.isfinite(sample["image"][0]),
            background=float(meta["background"][row]),
            sigma=float(meta["sigma"][row]),
            gain=gain if known else None,
            read_noise_e=read_noise if known else None,
        )


FIT_TILES = 32  # train tiles a sky denoiser's parameters are chosen on


def run_sky_denoiser(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Denoise every test tile with a classical method, its parameters chosen on train tiles; FITS like the model's."""
    if name not in SKY_DENOISERS:
        raise ValueError(f"baseline must be one of {sorted(SKY_DENOISERS)} for sky denoising, got {name!r}")
    chosen = set(np.random.default_rng(0).permutation(len(train))[:FIT_TILES].tolist())
    tiles = [tile for row, tile in enumerate(store_tiles(train)) if row in chosen]
    clean = [train[row]["target"][0] for row in sorted(chosen)] if "target" in train.keys else None
    method = SKY_DENOISERS[name]().fit(tiles, clean)
    images = np.stack([method.denoise(tile) for tile in store_tiles(test)])
    log.info("%s: %d test tiles", name, len(images))
    return write_tile_images(test.path, {"TILE": images}, output, f"baseline {name}", [train.path, test.path])
