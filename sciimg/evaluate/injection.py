"""Injection-recovery on real images: add stars of known flux, then see which ones each detector finds.

Real images have no truth catalog, so completeness is measured on what is put in: stars
shaped like the image's own PSF (a Gaussian of the FWHM fitted to its bright isolated
stars with photutils), at signal-to-noise ratios drawn log-uniformly from 2 to 50
(background-limited: ``SNR = flux / (rms sqrt(4 pi) sigma_psf)``), placed at random away
from the sources already there and from each other. The stars are added noise-free, so
the image's own noise (and crowding, and nebulosity) is what hides them. The model runs
on the injected FITS file exactly as a user's image (:meth:`DetectionModel.predict_file`);
sep runs on it with the cut it was calibrated to on simulated images. A star is
recovered when a detection lies within 1.5 pixels of it.

A real image has no truth, so the purity of those cuts there is unknown; to compare at a
like false-detection budget, each method's recovery is also given with its cut set so that
it finds as many sources on the image before injection as the method that finds fewest
(``recovered_at_equal_count``; the model can only be cut harder, sep down to its floor).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.stats import mad_std
from astropy.table import Table
from scipy.spatial import cKDTree

from sciimg.baselines.sky_denoise import Tile
from sciimg.baselines.sky_detect import sep_sources
from sciimg.errors import InputError
from sciimg.evaluate.sky_detect import binned_share
from sciimg.evaluate.sky_plots import plot_injection_cutouts
from sciimg.inference.export import WEIGHTS
from sciimg.inference.load import load_model
from sciimg.io.atomic import write_text_atomic
from sciimg.io.catalogs import read_catalog
from sciimg.io.fits import FitsImage
from sciimg.kinds import get_kind, kind_of
from sciimg.provenance import provenance
from sciimg.scoring import match_positions
from sciimg.simulate.sky import Psf, add_stamp

SNR_RANGE = (2.0, 50.0)
INJECTED_SNR_BINS = (2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0, 50.0)
CLEARANCE = 8.0  # pixels between an injected star and any source or other injected star
PSF_STARS = 40  # bright isolated stars the FWHM is fitted on


def measure_fwhm(image: np.ndarray, usable: np.ndarray) -> float:
    """Median FWHM (pixels) of Gaussians fitted to the image's bright, isolated, unsaturated stars."""
    from photutils.psf import fit_fwhm

    found = sep_sources(Tile(image, usable, 0.0, 1.0))
    yx = np.column_stack([found["y"], found["x"]])
    if len(yx) < 3:
        raise ValueError("too few stars to measure the PSF")
    neighbour = cKDTree(yx).query(yx, k=2)[0][:, 1]
    ny, nx = image.shape
    inside = (yx[:, 0] > 10) & (yx[:, 0] < ny - 11) & (yx[:, 1] > 10) & (yx[:, 1] < nx - 11)
    peak = np.array([image[round(y), round(x)] for y, x in yx])
    unsaturated = peak < np.percentile(image[usable], 99.9)
    chosen = np.flatnonzero(inside & (neighbour > 15) & unsaturated)
    chosen = chosen[np.argsort(-found["score"][chosen])][:PSF_STARS]
    if len(chosen) < 3:
        raise ValueError("too few isolated stars to measure the PSF")
    fwhm = fit_fwhm(image - np.median(image[usable]), xypos=yx[chosen][:, ::-1], fit_shape=9)
    return float(np.median(fwhm[np.isfinite(fwhm)]))


def inject(
    image: np.ndarray, usable: np.ndarray, n_stars: int, rng: np.random.Generator
) -> tuple[np.ndarray, Table, float]:
    """The image with ``n_stars`` Gaussian stars added, their table (x, y, flux, snr) and the PSF FWHM."""
    fwhm = measure_fwhm(image, usable)
    present = sep_sources(Tile(image, usable, 0.0, 1.0))
    rms = float(mad_std(image[usable]))
    taken = list(np.column_stack([present["y"], present["x"]]))
    ny, nx = image.shape
    rows, tries = [], 0
    while len(rows) < n_stars and tries < 50 * n_stars:
        tries += 1
        y, x = rng.uniform(-0.5, ny - 0.5), rng.uniform(-0.5, nx - 0.5)
        if not usable[round(y), round(x)]:
            continue
        if taken and np.min(np.hypot(*(np.asarray(taken) - (y, x)).T)) < CLEARANCE:
            continue
        taken.append(np.array([y, x]))
        snr = float(np.exp(rng.uniform(*np.log(SNR_RANGE))))
        rows.append((x, y, snr * rms * np.sqrt(4 * np.pi) * fwhm / 2.3548, snr))
    psf = Psf(fwhm, None, 0.0, 0.0)
    injected = image.astype(np.float64).copy()
    for x, y, flux, _ in rows:
        xc, yc = round(x), round(y)
        add_stamp(injected, flux * psf.stamp(int(np.ceil(3 * fwhm)), x - xc, y - yc), yc, xc)
    return injected, Table(rows=rows, names=("x", "y", "flux", "snr")), fwhm


def recovered(stars: Table, found_x: np.ndarray, found_y: np.ndarray) -> np.ndarray:
    """Per injected star, whether a detection lies within 1.5 pixels (one to one)."""
    hit = np.zeros(len(stars), bool)
    truth_yx = np.column_stack([stars["y"], stars["x"]])
    hit[match_positions(truth_yx, np.column_stack([found_y, found_x]))[0]] = True
    return hit


def injection_recovery(
    model_dir: str | os.PathLike,
    images: list[str | os.PathLike],
    baseline_catalogs: Mapping[str, str | os.PathLike],
    out_dir: str | os.PathLike,
    n_stars: int = 300,
    seed: int = 0,
) -> dict[str, Any]:
    """Inject stars into each real image, run the model and sep, write ``injection.json`` and cutouts."""
    out_dir = Path(out_dir)
    if not (isinstance(n_stars, int) and n_stars >= 1):
        raise InputError(f"{out_dir}: inject at least one star per image (--n-stars), got {n_stars!r}")
    model = load_model(model_dir)
    kind = kind_of(model.metadata)
    if kind != get_kind("sky", "detection"):
        raise InputError(f"{model_dir}: injection tests a sky detection model, not {kind.modality} {kind.task}")
    cuts = {name: float(read_catalog(path).meta["THRESH"]) for name, path in baseline_catalogs.items()}
    results, panels = {}, []
    for index, path in enumerate(images):
        with FitsImage(path) as source:
            image, header = source.read().astype(np.float64), source.header.copy()
            usable = ~source.bad_pixels(None, image)
        rng = np.random.default_rng([seed, index])
        try:
            injected, stars, fwhm = inject(np.where(usable, image, np.nan), usable, n_stars, rng)
        except ValueError as error:
            raise InputError(f"{path}: cannot inject stars: {error}") from None
        with tempfile.TemporaryDirectory() as scratch:
            before, after = Path(scratch) / "before.fits", Path(scratch) / "after.fits"
            for data, file in ((image, before), (injected, after)):
                fits.PrimaryHDU(data.astype(np.float32), header=_float_header(header)).writeto(file)
            found = {"model": [read_catalog(model.predict_file(f, f.with_suffix(".ecsv"))) for f in (before, after)]}
        candidates = {"model": found["model"]}
        for name, cut in cuts.items():
            columns = [Table(sep_sources(Tile(np.nan_to_num(data), usable, 0.0, 1.0))) for data in (image, injected)]
            candidates[name] = columns
            found[name] = [c[c["score"] >= cut] for c in columns]
        common = min(len(c[0]) for c in candidates.values())  # the fewest detections any method can give
        scores = {}
        for name, (on_image, on_injected) in found.items():
            hit = recovered(stars, np.asarray(on_injected["x"]), np.asarray(on_injected["y"]))
            before_all, after_all = candidates[name]
            equal_cut = np.sort(np.asarray(before_all["score"]))[::-1][common - 1] if common else np.inf
            kept = after_all[np.asarray(after_all["score"]) >= equal_cut]
            equal_hit = recovered(stars, np.asarray(kept["x"]), np.asarray(kept["y"]))
            scores[name] = {
                "recovered": float(hit.mean()),
                "recovered_by_snr": binned_share(np.asarray(stars["snr"]), hit, INJECTED_SNR_BINS),
                "detections_before": len(on_image),
                "recovered_at_equal_count": float(equal_hit.mean()),
                "recovered_by_snr_at_equal_count": binned_share(np.asarray(stars["snr"]), equal_hit, INJECTED_SNR_BINS),
            }
        results[Path(path).name] = {
            "psf_fwhm_px": fwhm,
            "n_injected": len(stars),
            "equal_count": common,
            "methods": scores,
        }
        panels.append((Path(path).name, image, injected, stars, {n: f[1] for n, f in found.items()}))
    figure = plot_injection_cutouts(out_dir / "injection_cutouts.png", panels)
    summary = {
        "snr_bins": list(INJECTED_SNR_BINS),
        "cuts": {"model": model.threshold, **cuts},
        "images": results,
        "figure": figure.name,
        "provenance": provenance(inputs=[*images, Path(model_dir) / WEIGHTS], seed=seed),
    }
    write_text_atomic(out_dir / "injection.json", json.dumps(summary, indent=2))
    return summary


def _float_header(header: fits.Header) -> fits.Header:
    """The header without the integer-scaling cards, for a float copy of the image."""
    header = header.copy()
    for key in ("BSCALE", "BZERO", "BLANK"):
        header.remove(key, ignore_missing=True)
    return header
