"""Classical artefact cleaning of sky images: LA Cosmic (astroscrappy) to find, three ways to fill.

Every method writes, per test tile, the layers the evaluation compares:

* ``TILE``: the cleaned image (ADU), end to end: astroscrappy's mask at its documented
  defaults (``sigclip`` 4.5, ``sigfrac`` 0.3, ``objlim`` 5, four iterations; gain, read
  noise and saturation level from the header), filled by the method (``astroscrappy``:
  its own median-mask cleaning);
* ``FOUND``: that mask; ``MASK``: the pixels replaced (input bad pixels too);
* ``PROB`` (``astroscrappy`` only): a detection score per pixel, the largest ``sigclip`` of
  a grid at which LA Cosmic still flags the pixel, so that sweeping a threshold over it
  traces LA Cosmic's ROC curve as the deepCR paper does;
* ``FILLED`` (``biharmonic``, ``masked_median``): the true artefacts (grown as the model's
  are) filled by the method, which isolates the quality of inpainting from detection.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits
from skimage.restoration import inpaint_biharmonic

from sciimg.baselines.sky_denoise import Tile, masked_median, store_tiles
from sciimg.io.fits_tiles import write_tile_images
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import artefact_holes

log = logging.getLogger(__name__)

SIGCLIP_GRID = tuple(np.round(np.geomspace(2.0, 60.0, 18), 3))
DEFAULT_SIGCLIP = 4.5


def detect_cosmics(
    tile: Tile, saturation_adu: float, sigclip: float = DEFAULT_SIGCLIP
) -> tuple[np.ndarray, np.ndarray]:
    """astroscrappy's cosmic-ray mask and cleaned image of a tile (documented defaults but ``sigclip``)."""
    import astroscrappy

    gain = tile.gain if tile.gain is not None else 1.0
    read_noise = tile.read_noise_e if tile.read_noise_e is not None else tile.sigma * gain
    mask, cleaned = astroscrappy.detect_cosmics(
        np.ascontiguousarray(tile.filled(), np.float32),
        inmask=~tile.usable,
        sigclip=sigclip,
        gain=gain,
        readnoise=read_noise,
        satlevel=saturation_adu,
    )
    return np.asarray(mask, bool), np.asarray(cleaned, np.float64)


def lacosmic_score(tile: Tile, saturation_adu: float) -> np.ndarray:
    """Per pixel, the largest ``sigclip`` of :data:`SIGCLIP_GRID` at which LA Cosmic flags it (0: never)."""
    score = np.zeros(tile.image.shape, np.float32)
    for sigclip in SIGCLIP_GRID:
        mask, _ = detect_cosmics(tile, saturation_adu, sigclip)
        score[mask] = sigclip
    return score


def biharmonic_fill(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting of the holes."""
    if not holes.any():
        return image.astype(np.float64)
    return inpaint_biharmonic(np.where(holes, 0.0, image), holes)


def masked_median_fill(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Holes replaced by the median of the known pixels of their 5 x 5 neighbourhood (repeated inwards)."""
    filled = masked_median(image, ~holes)
    return np.where(np.isfinite(filled), filled, np.nanmedian(np.where(holes, np.nan, image)))


FILLERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "biharmonic": biharmonic_fill,
    "masked_median": masked_median_fill,
}
SKY_CLEANERS = ("astroscrappy", *FILLERS)


def clean_tile(name: str, tile: Tile, saturation_adu: float, true_holes: np.ndarray) -> dict[str, np.ndarray]:
    """The layers (see the module docstring) of one method on one tile."""
    found, lacosmic_cleaned = detect_cosmics(tile, saturation_adu)
    replaced = found | ~tile.usable
    if name == "astroscrappy":
        cleaned = np.where(replaced, lacosmic_cleaned, tile.image)
        return {"TILE": cleaned, "FOUND": found, "MASK": replaced, "PROB": lacosmic_score(tile, saturation_adu)}
    fill = FILLERS[name]
    image = tile.filled()
    return {
        "TILE": np.where(replaced, fill(image, replaced), tile.image),
        "FOUND": found,
        "MASK": replaced,
        "FILLED": np.where(true_holes, fill(image, true_holes), tile.image),
    }


def run_sky_cleaner(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Find and fill artefacts in every test tile with a classical method; FITS tiles like the model's output."""

    files, dilation = test.meta()["file"], int(test.attrs["mask_dilation"])
    saturation = [float(fits.Header.fromstring(str(h)).get("SATURATE", np.inf)) for h in test.extra()["headers"]]
    layers: dict[str, list[np.ndarray]] = {}
    for row, tile in enumerate(store_tiles(test)):
        holes = artefact_holes(test[row]["labels"][0], dilation) | ~tile.usable
        for layer, image in clean_tile(name, tile, saturation[int(files[row])], holes).items():
            layers.setdefault(layer, []).append(image)
    log.info("%s: %d test tiles", name, len(test))
    stacked = {layer: np.stack(images) for layer, images in layers.items()}
    return write_tile_images(test.path, stacked, output, f"baseline {name}", [test.path])
