"""Evaluate artefact cleaning of sky images against the truth masks and clean images of the test tiles.

Pixels are counted on the usable pixels of the test tiles; saturated star cores count as
neither artefact nor artefact-free.

* Detection (methods with a score map ``PROB``): the ROC curve of cosmic-ray pixels against
  artefact-free pixels, and the true-positive rate at false-positive rates 0.05 % and
  0.5 %, read off the curve (the deepCR protocol). At each method's own operating point
  (``FOUND``): the share found of cosmic rays (also of those within 4 pixels of an image
  border), defects (hot pixels, bad columns) and satellite trails, the false-positive rate,
  and that rate on source pixels alone (truth more than 5 sigma above the sky), where LA
  Cosmic mistakes stars for cosmic rays.
* Inpainting (methods with ``FILLED``: the true artefacts, grown as the model grows its
  mask, filled by the method): MSE against the clean truth on those pixels, in units of
  the tile's noise squared; and the flux bias of sources under the holes: per connected
  source region of the truth (above 3 sigma over a plane fitted to the truth's sky), the
  flux the filling adds or removes, relative to the region's flux.
* End to end (``TILE``, the cleaned image): RMSE against the clean truth on artefact
  pixels, and the RMS change made to artefact-free pixels (damage), in noise units.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from scipy import ndimage
from sklearn.metrics import roc_curve

from sciimg.errors import InputError
from sciimg.evaluate.sky_plots import plot_cleaning_cutouts, plot_roc
from sciimg.evaluate.verdict import root_ratio_figure, verdict
from sciimg.io.atomic import write_text_atomic
from sciimg.io.fits_tiles import read_tile_layers
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import ARTEFACT_CODES, artefact_holes
from sciimg.provenance import provenance

FPR_POINTS = (0.0005, 0.005)
TARGETS = {"tpr_at_0.05%_fpr": 0.9, "tpr_gain_over_astroscrappy": 0.2, "inpaint_mse_ratio_to_biharmonic": 0.3}
SOURCE_SIGMA = 5.0  # truth above the sky by this many sigma: a source pixel (false positives there)
SEGMENT_SIGMA = 3.0  # sources for the flux bias: connected truth above the sky by this many sigma
EDGE = 4  # pixels this close to an image's border are its edge (found there vs found anywhere)


def sky_plane(clean: np.ndarray, sigma: float, iterations: int = 4) -> np.ndarray:
    """A plane fitted to the sky of a noise-free image: sources only add light, so fit the lower envelope."""
    yy, xx = np.mgrid[: clean.shape[0], : clean.shape[1]]
    design = np.column_stack([np.ones(clean.size), yy.ravel(), xx.ravel()])
    keep = np.isfinite(clean.ravel())
    plane = np.full(clean.shape, np.nanmedian(clean))
    for _ in range(iterations):
        if keep.sum() < 3:
            break
        coefficients, *_ = np.linalg.lstsq(design[keep], clean.ravel()[keep], rcond=None)
        plane = (design @ coefficients).reshape(clean.shape)
        keep = np.isfinite(clean.ravel()) & (clean.ravel() - plane.ravel() < 0.5 * sigma)
    return plane


def roc_points(positive_scores: np.ndarray, negative_scores: np.ndarray) -> dict[str, Any]:
    """ROC curve (false- and true-positive rates) and the TPR at :data:`FPR_POINTS`."""
    labels = np.concatenate([np.ones(positive_scores.size), np.zeros(negative_scores.size)])
    fpr, tpr, _ = roc_curve(labels, np.concatenate([positive_scores, negative_scores]))
    keep = np.unique(np.searchsorted(fpr, np.geomspace(1e-6, 1, 200)).clip(0, len(fpr) - 1))
    return {
        **{f"tpr_at_{100 * f:g}%_fpr": float(np.interp(f, fpr, tpr)) for f in FPR_POINTS},
        "roc_fpr": fpr[keep].round(7).tolist(),
        "roc_tpr": tpr[keep].round(5).tolist(),
    }


def flux_bias(filled: np.ndarray, clean: np.ndarray, holes: np.ndarray, plane: np.ndarray, sigma: float) -> np.ndarray:
    """Per source region under a hole: (filled - truth flux of its hole pixels) / region flux."""
    signal = clean - plane
    regions, n = ndimage.label(signal > SEGMENT_SIGMA * sigma)
    if n == 0:
        return np.empty(0)
    index = np.arange(1, n + 1)
    flux = ndimage.sum(signal, regions, index)
    change = ndimage.sum(np.where(holes, filled - clean, 0.0), regions, index)
    touched = ndimage.sum(holes, regions, index) > 0
    return (change / flux)[touched & (flux > 0)]


def image_edges(store: SampleStore, tile_shape: tuple[int, int]):
    """Per tile, the pixels within :data:`EDGE` pixels of their source image's border."""
    meta, headers = store.meta(), store.extra()["headers"]
    for row in range(len(store)):
        header = fits.Header.fromstring(str(headers[int(meta["file"][row])]))
        ny, nx = header["NAXIS2"], header["NAXIS1"]
        yy, xx = np.mgrid[: tile_shape[0], : tile_shape[1]]
        yy, xx = yy + int(meta["y0"][row]), xx + int(meta["x0"][row])
        yield (yy < EDGE) | (xx < EDGE) | (yy >= ny - EDGE) | (xx >= nx - EDGE)


class Truth:
    """The test split's truth, tile by tile."""

    def __init__(self, store: SampleStore) -> None:
        missing = [k for k in ("target", "labels") if k not in store.keys]
        if missing:
            raise InputError(f"{store.path}: has no {missing} to score cleaning against (ingest with task cleaning)")
        self.clean = store.read("target")[:, 0].astype(np.float64)
        self.noisy = store.read("image")[:, 0].astype(np.float64)
        self.labels = store.read("labels")[:, 0]
        self.usable = store.read("mask")[:, 0].astype(bool) & np.isfinite(self.clean) & np.isfinite(self.noisy)
        self.sigma = store.meta()["sigma"].astype(np.float64)
        self.dilation = int(store.attrs["mask_dilation"])
        self.planes = np.stack([sky_plane(c, s) for c, s in zip(self.clean, self.sigma, strict=True)])
        self.image_edge = np.stack(list(image_edges(store, self.clean.shape[1:])))

    def kind(self, name: str) -> np.ndarray:
        return self.usable & (self.labels == ARTEFACT_CODES[name])

    @property
    def artefacts(self) -> np.ndarray:
        return self.usable & (self.labels > 0) & (self.labels < ARTEFACT_CODES["saturated"])

    @property
    def sources(self) -> np.ndarray:
        return self.kind("none") & (self.clean - self.planes > SOURCE_SIGMA * self.sigma[:, None, None])

    def holes(self, row: int) -> np.ndarray:
        return artefact_holes(self.labels[row], self.dilation) | ~self.usable[row]


def detection_scores(layers: Mapping[str, np.ndarray], truth: Truth) -> dict[str, Any]:
    """ROC (from ``PROB``) and operating point (``FOUND``) of one method."""
    out: dict[str, Any] = {}
    if "PROB" in layers:
        out.update(roc_points(layers["PROB"][truth.kind("cosmic_ray")], layers["PROB"][truth.kind("none")]))
    found = layers["FOUND"].astype(bool)
    for name in ("cosmic_ray", "defect", "trail"):
        pixels = truth.kind(name)
        out[f"found_{name}"] = float(found[pixels].mean()) if pixels.any() else None
    at_edge = truth.kind("cosmic_ray") & truth.image_edge
    out["found_cosmic_ray_at_edge"] = float(found[at_edge].mean()) if at_edge.any() else None
    out["fpr"] = float(found[truth.kind("none")].mean())
    out["fpr_on_sources"] = float(found[truth.sources].mean()) if truth.sources.any() else None
    return out


def inpainting_scores(filled: np.ndarray, truth: Truth) -> dict[str, Any]:
    """MSE on the true (grown) artefact pixels and the flux bias of sources under them."""
    errors, biases = [], []
    for row in range(len(filled)):
        holes = truth.holes(row) & np.isfinite(truth.clean[row])
        errors.append(((filled[row] - truth.clean[row])[holes] / truth.sigma[row]) ** 2)
        biases.append(flux_bias(filled[row], truth.clean[row], holes, truth.planes[row], truth.sigma[row]))
    bias = np.concatenate(biases)
    return {
        "inpaint_mse": float(np.concatenate(errors).mean()),
        "flux_bias_median": float(np.median(bias)) if bias.size else None,
        "flux_error_median_abs": float(np.median(np.abs(bias))) if bias.size else None,
        "n_sources_under_holes": int(bias.size),
    }


def cleaning_scores(cleaned: np.ndarray, truth: Truth) -> dict[str, float]:
    """End to end: RMSE on artefact pixels against the truth, RMS change of artefact-free pixels."""
    scale = truth.sigma[:, None, None]
    on_artefacts = ((cleaned - truth.clean) / scale)[truth.artefacts]
    untouched = truth.kind("none")
    damage = ((cleaned - truth.noisy) / scale)[untouched]
    return {"artefact_rmse": float(np.sqrt(np.mean(on_artefacts**2))), "damage_rms": float(np.sqrt(np.mean(damage**2)))}


def artefact_errors(cleaned: np.ndarray, truth: Truth) -> np.ndarray:
    """Per tile: squared error (noise units) summed over the artefact pixels of the cleaned image, and their count."""
    squared = np.where(truth.artefacts, ((cleaned - truth.clean) / truth.sigma[:, None, None]) ** 2, 0.0)
    return np.stack([squared.sum(axis=(1, 2)), truth.artefacts.sum(axis=(1, 2))], axis=1)


def compare(methods: Mapping[str, Mapping[str, Any]], model: str) -> dict[str, Any]:
    """The model against astroscrappy (detection) and biharmonic (inpainting), with the targets."""
    result: dict[str, Any] = {"targets": TARGETS}
    ours = methods[model]
    met = {"tpr_at_0.05%_fpr": ours.get("tpr_at_0.05%_fpr", 0) >= TARGETS["tpr_at_0.05%_fpr"]}
    if "astroscrappy" in methods and "tpr_at_0.05%_fpr" in methods["astroscrappy"]:
        gain = ours["tpr_at_0.05%_fpr"] - methods["astroscrappy"]["tpr_at_0.05%_fpr"]
        result["tpr_gain_over_astroscrappy"] = gain
        met["tpr_gain_over_astroscrappy"] = gain >= TARGETS["tpr_gain_over_astroscrappy"]
    if "biharmonic" in methods and "inpaint_mse" in methods["biharmonic"]:
        ratio = ours["inpaint_mse"] / methods["biharmonic"]["inpaint_mse"]
        result["inpaint_mse_ratio_to_biharmonic"] = ratio
        met["inpaint_mse_ratio_to_biharmonic"] = ratio <= TARGETS["inpaint_mse_ratio_to_biharmonic"]
    result["targets_met"] = met
    return result


def evaluate_sky_cleaning(
    experiment: str, predictions: Mapping[str, str | os.PathLike], test: str | os.PathLike, out_dir: str | os.PathLike
) -> dict[str, Any]:
    """Score every method's layers (see the module docstring); write ``metrics.json`` and two figures."""
    out_dir = Path(out_dir)
    store = SampleStore(test)
    truth = Truth(store)
    methods, layers_of = {}, {}
    for name, path in predictions.items():
        layers = read_tile_layers(path)
        if "TILE" not in layers or "FOUND" not in layers:
            raise InputError(f"{path}: has no TILE<n> and FOUND<n> tile extensions (a cleaning output)")
        if layers["TILE"].shape != truth.clean.shape:
            raise InputError(f"{path}: has tiles of shape {layers['TILE'].shape}, the test split {truth.clean.shape}")
        layers_of[name] = layers
        methods[name] = {
            **detection_scores(layers, truth),
            **(inpainting_scores(layers["FILLED"].astype(np.float64), truth) if "FILLED" in layers else {}),
            **cleaning_scores(layers["TILE"].astype(np.float64), truth),
        }
    model = next(iter(predictions))
    errors = {name: artefact_errors(layers["TILE"].astype(np.float64), truth) for name, layers in layers_of.items()}
    files = store.meta()["file"]
    rmse = "RMSE on artefact pixels of the cleaned image"
    headline = verdict(rmse, errors, root_ratio_figure, True, model, list(methods), "tiles", files, "noise sigma")
    figures = [
        plot_roc(out_dir / "cleaning_roc.png", methods),
        plot_cleaning_cutouts(out_dir / "cleaning_cutouts.png", truth, layers_of),
    ]
    metrics = {
        "experiment": experiment,
        "task": "cleaning",
        "modality": "sky",
        "verdict": headline,
        "n_test_tiles": len(truth.clean),
        "n_test_images": len(set(store.meta()["file"].tolist())),
        "pixels": {
            "cosmic_ray": int(truth.kind("cosmic_ray").sum()),
            "defect": int(truth.kind("defect").sum()),
            "trail": int(truth.kind("trail").sum()),
            "artefact_free": int(truth.kind("none").sum()),
        },
        "methods": methods,
        "comparison": {f"{model} vs classical": compare(methods, model)},
        "figures": [f.name for f in figures],
        "definitions": {
            "tpr_at_x%_fpr": "share of cosmic-ray pixels found when x % of artefact-free pixels are flagged (ROC)",
            "found_<kind>, fpr": "at the method's own threshold: share of that kind found; artefact-free share flagged",
            "found_cosmic_ray_at_edge": f"share found of cosmic-ray pixels within {EDGE} px of an image border",
            "fpr_on_sources": f"share flagged of artefact-free pixels > {SOURCE_SIGMA:g} sigma above the sky",
            "inpaint_mse": "MSE on the true artefacts (grown like the model's mask), in noise units squared",
            "flux_bias_median": "median over sources under holes of (flux added by the filling) / source flux",
            "artefact_rmse": "cleaned image vs clean truth on artefact pixels (noise units)",
            "damage_rms": "RMS change of artefact-free pixels (noise units)",
        },
        "provenance": provenance(inputs=[test, *predictions.values()]),
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    store.close()
    return metrics
