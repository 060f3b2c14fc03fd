"""Classical source detection: sep (SExtractor's algorithms in C) and photutils image segmentation.

Both work as their documentation shows, on the image minus a 64-pixel mesh background,
with bad pixels masked, except that candidates go down to 1 x the background RMS (below
SExtractor's default 1.5) so that the calibrated cut, not the floor, sets their depth:

* ``sep``: ``sep.extract`` (5 connected pixels, its 3 x 3 matched filter, 32-level
  deblending at contrast 0.005);
  positions refined by ``sep.winpos`` (SExtractor's XWIN/YWIN), fluxes by Kron ellipses
  (FLUX_AUTO: 2.5 Kron radii, a 3.5-pixel circle for tiny ones).
* ``photutils``: ``Background2D`` (median), the image convolved with a 2-D Gaussian of
  FWHM 3 pixels, ``SourceFinder`` (segmentation, 5 pixels,
  multi-threshold deblending), ``SourceCatalog`` centroids and Kron fluxes.

Each candidate's ``score`` is its filtered peak in units of the background RMS, the
significance a user would cut on. Like the model's, the cuts are calibrated on the validation
split, to the experiment's target purity and to :data:`~sciimg.scoring.LOOSER_PURITY`
(:func:`calibrate_cuts`); the test tiles never choose a cut.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack
from scipy import ndimage

from sciimg.baselines.sky_denoise import Tile, store_tiles
from sciimg.io.catalogs import write_catalog
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import sources_by_tile
from sciimg.provenance import provenance
from sciimg.scoring import LOOSER_PURITY, scored_candidates, threshold_for_purity

log = logging.getLogger(__name__)

DETECT_SIGMA = 1.0  # candidates' floor (SExtractor's DETECT_THRESH default is 1.5)
MIN_PIXELS = 5
MESH = 64  # background mesh (pixels)
KRON_FACTOR, KRON_MIN_RADIUS = 2.5, 3.5  # SExtractor's PHOT_AUTOPARAMS

Columns = dict[str, np.ndarray]


def _mesh(shape: tuple[int, int]) -> int:
    return int(min(MESH, *shape))


def sep_sources(tile: Tile) -> Columns:
    """Candidates of one tile by sep: x, y (0-based pixels), flux (Kron, ADU) and score (peak / RMS)."""
    import sep

    mask = ~tile.usable
    data = np.ascontiguousarray(np.where(tile.usable, tile.image, 0.0), dtype=np.float64)
    mesh = _mesh(data.shape)
    background = sep.Background(data, mask=mask, bw=mesh, bh=mesh)
    sub = data - background.back()
    rms = background.globalrms
    objects = sep.extract(sub, DETECT_SIGMA, err=rms, mask=mask, minarea=MIN_PIXELS)
    if len(objects) == 0:
        return {name: np.empty(0) for name in ("x", "y", "flux", "score")}
    x, y, a, b, theta = (objects[k].astype(np.float64) for k in ("x", "y", "a", "b", "theta"))
    theta = np.clip(theta, -np.pi / 2, np.pi / 2)  # float32 angles may pass pi/2, which sep refuses
    kron, _ = sep.kron_radius(sub, x, y, a, b, theta, 6.0, mask=mask)
    undefined = ~np.isfinite(kron) | (kron <= 0) | ~(a > 0) | ~(b > 0)
    kron, a, b = np.where(undefined, 1.0, kron), np.where(undefined, 1.0, a), np.where(undefined, 1.0, b)
    flux, _, _ = sep.sum_ellipse(sub, x, y, a, b, theta, KRON_FACTOR * kron, subpix=1, mask=mask)
    small = undefined | (kron * np.sqrt(a * b) < KRON_MIN_RADIUS)
    if small.any():
        flux[small] = sep.sum_circle(sub, x[small], y[small], KRON_MIN_RADIUS, subpix=1, mask=mask)[0]
    half_light, _ = sep.flux_radius(sub, x, y, 6.0 * a, 0.5, normflux=flux, subpix=5, mask=mask)
    sigma = 2.0 / 2.35 * np.clip(half_light, 0.5, None)
    xwin, ywin, flag = sep.winpos(sub, x, y, sigma, mask=mask)
    moved = (flag != 0) | ~np.isfinite(xwin) | (np.hypot(xwin - x, ywin - y) > 2.0)  # keep isophotal then
    return {
        "x": np.where(moved, x, xwin),
        "y": np.where(moved, y, ywin),
        "flux": flux,
        "score": objects["cpeak"] / rms,
    }


def photutils_sources(tile: Tile) -> Columns:
    """Candidates of one tile by photutils segmentation: x, y, flux (Kron, ADU), score (filtered peak / RMS)."""
    from astropy.convolution import convolve
    from photutils.background import Background2D, MedianBackground
    from photutils.segmentation import SourceCatalog, SourceFinder, make_2dgaussian_kernel

    mask = ~tile.usable
    data = np.where(tile.usable, tile.image, 0.0)
    mesh = _mesh(data.shape)
    background = Background2D(data, mesh, mask=mask, filter_size=3, bkg_estimator=MedianBackground())
    sub = data - background.background
    convolved = convolve(sub, make_2dgaussian_kernel(3.0, size=5), mask=mask)
    threshold = DETECT_SIGMA * background.background_rms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no sources found" and deblending notes
        segments = SourceFinder(n_pixels=MIN_PIXELS, progress_bar=False)(convolved, threshold, mask=mask)
    if segments is None:
        return {name: np.empty(0) for name in ("x", "y", "flux", "score")}
    catalog = SourceCatalog(sub, segments, convolved_data=convolved, mask=mask)
    significance = convolved / np.maximum(background.background_rms, 1e-12)
    peaks = ndimage.maximum(significance, segments.data, segments.labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flux = np.asarray(catalog.kron_flux, float)
    segment_flux = np.asarray(catalog.segment_flux, float)
    return {
        "x": np.asarray(catalog.x_centroid, float),
        "y": np.asarray(catalog.y_centroid, float),
        "flux": np.where(np.isfinite(flux), flux, segment_flux),
        "score": np.asarray(peaks, float),
    }


SKY_DETECTORS: dict[str, Callable[[Tile], Columns]] = {"sep": sep_sources, "photutils": photutils_sources}


def calibrate_cuts(found: Iterable[Columns], truths: Iterable[np.ndarray], purities: list[float]) -> list[float]:
    """Per target purity, the lowest score cut at which that share of the candidates match a truth source (1.5 px)."""
    scores, real = scored_candidates(found, truths)
    return [threshold_for_purity(scores, real, purity) for purity in purities]


def run_sky_detector(
    name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike, val: SampleStore | None = None
) -> Path:
    """Candidates of every test tile by a classical detector, with its cuts (``THRESH`` at the target purity,
    ``LOOSECUT`` at :data:`~sciimg.scoring.LOOSER_PURITY`) calibrated on the validation split (else train)."""
    detect = SKY_DETECTORS[name]
    target = float(test.attrs["target_purity"])
    calibration = val if val is not None else train
    found = (detect(tile) for tile in store_tiles(calibration))
    cut, looser = calibrate_cuts(found, sources_by_tile(calibration), [target, LOOSER_PURITY])
    split = calibration.attrs.get("split", "calibration")
    log.info("%s: score cut %.3f reaches purity %.3f on %d %s tiles", name, cut, target, len(calibration), split)
    tables = []
    for row, tile in enumerate(store_tiles(test)):
        table = Table(detect(tile))
        table.add_column(np.full(len(table), row), index=0, name="tile")
        tables.append(table)
    table = vstack(tables)
    table["x"].unit = table["y"].unit = "pix"
    table["flux"].unit = test.attrs["units"]["image"]
    table.meta.update({"THRESH": cut, "LOOSECUT": looser, "FLOOR": DETECT_SIGMA, "BASELINE": name})
    log.info("%s: %d candidates in %d test tiles", name, len(table), len(test))
    prov = provenance(inputs=[calibration.path, test.path])
    return write_catalog(table, output, prov, f"baseline {name} (candidates; cut at score THRESH)")
