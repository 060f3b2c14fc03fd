"""Evaluate sky-image denoising against the clean truth of the test tiles.

Each tile is put on one scale before scoring, the same for every method: its sky level
is subtracted and it is divided by its noise (the store's per-tile median and MAD
standard deviation of the noisy input), so values are in units of the input noise.

* ``psnr``, ``ssim``: on that scale clipped to [-10, 100] sigma (data range 110), over
  the usable pixels; averaged over tiles (PSNR in dB). The clip keeps the scores about
  the faint sky and sources that denoising is for, not bright star cores;
* ``rmse_sigma``: unclipped RMSE in units of the input noise (the noisy input scores ~1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from skimage.metrics import structural_similarity

from sciimg.errors import InputError
from sciimg.evaluate.sky_plots import plot_cutouts
from sciimg.evaluate.verdict import mean_figure, verdict
from sciimg.io.atomic import write_text_atomic
from sciimg.io.fits_tiles import read_tile_images
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance

CLIP_SIGMA = (-10.0, 100.0)
CLASSICAL = ("bm3d", "nl_means", "wavelet", "gaussian_filter", "median_filter")
TARGETS = {"supervised_min_psnr_gain_over_bm3d_db": 1.0, "noise2void_min_psnr_gain_over_bm3d_db": 0.0}


def tile_scores(
    prediction: np.ndarray, truth: np.ndarray, usable: np.ndarray, background: float, sigma: float
) -> tuple[float, float, float]:
    """PSNR (dB), SSIM and RMSE (in noise units) of one tile; see the module docstring."""
    low, high = CLIP_SIGMA
    pred = (prediction - background) / sigma
    true = (truth - background) / sigma
    rmse = float(np.sqrt(np.mean((pred[usable] - true[usable]) ** 2)))
    pred_c, true_c = np.clip(pred, low, high), np.clip(true, low, high)
    mse = float(np.mean((pred_c[usable] - true_c[usable]) ** 2))
    psnr = float(10 * np.log10((high - low) ** 2 / max(mse, 1e-12)))
    filled_pred = np.where(usable, pred_c, true_c)  # SSIM windows need whole images: unusable pixels score as exact
    _, ssim_map = structural_similarity(true_c, filled_pred, data_range=high - low, full=True)
    return psnr, float(ssim_map[usable].mean()), rmse


def compare(methods: Mapping[str, Mapping[str, Any]], model: str, training_target: str) -> dict[str, Any]:
    """The model's PSNR gain over BM3D (and over the best classical method) against the targets."""
    classical = {m: v["psnr"] for m, v in methods.items() if m in CLASSICAL}
    if not classical:
        return {}
    best = max(classical, key=classical.get)
    result: dict[str, Any] = {
        "best_classical": best,
        "psnr_gain_over_best_classical_db": methods[model]["psnr"] - classical[best],
    }
    if "bm3d" in classical:
        result["psnr_gain_over_bm3d_db"] = methods[model]["psnr"] - classical["bm3d"]
        key = {"clean": "supervised", "noise2void": "noise2void"}.get(training_target)  # noise2noise: no target set
        if key is not None:
            target = TARGETS[f"{key}_min_psnr_gain_over_bm3d_db"]
            result["targets"] = {f"{key}_min_psnr_gain_over_bm3d_db": target}
            result["targets_met"] = bool(result["psnr_gain_over_bm3d_db"] >= target)
    return result


def evaluate_sky_denoising(
    experiment: str,
    predictions: Mapping[str, str | os.PathLike],
    test: str | os.PathLike,
    out_dir: str | os.PathLike,
    training_target: str | None = None,
) -> dict[str, Any]:
    """Score every method's tiles against the truth; write ``metrics.json`` and the cutout figure.

    Args:
        predictions: method name -> FITS tile file on the test store, the model first.
        training_target: how the model was trained (``clean``, ``noise2noise`` or ``noise2void``), for the
            targets; by default as the test store records it.
    """
    out_dir = Path(out_dir)
    store = SampleStore(test)
    training_target = training_target or store.attrs.get("training_target", "clean")
    if "target" not in store.keys:
        raise InputError(f"{test}: has no clean truth to score denoising against")
    truth = store.read("target")[:, 0].astype(np.float64)
    noisy = store.read("image")[:, 0].astype(np.float64)
    usable = store.read("mask")[:, 0].astype(bool) & np.isfinite(truth) & np.isfinite(noisy)
    meta = store.meta()
    images = {"noisy input": noisy}
    for name, path in predictions.items():
        images[name] = read_tile_images(path).astype(np.float64)
        if images[name].shape != truth.shape:
            raise InputError(f"{path}: has tiles of shape {images[name].shape}, the test split {truth.shape}")
    methods = {}
    for name, values in images.items():
        scores = np.array(
            [
                tile_scores(values[i], truth[i], usable[i], meta["background"][i], meta["sigma"][i])
                for i in range(len(truth))
            ]
        )
        methods[name] = {
            "psnr": float(scores[:, 0].mean()),
            "ssim": float(scores[:, 1].mean()),
            "rmse_sigma": float(scores[:, 2].mean()),
            "psnr_per_tile": scores[:, 0].round(3).tolist(),
        }
    model = next(iter(predictions))
    figure = plot_cutouts(out_dir / "denoise_cutouts.png", truth, images, usable, meta)
    psnr = {name: np.asarray(values["psnr_per_tile"]) for name, values in methods.items()}
    headline = verdict("PSNR", psnr, mean_figure, False, model, CLASSICAL, "tiles", meta["file"], "dB")
    metrics = {
        "experiment": experiment,
        "task": "denoising",
        "modality": "sky",
        "verdict": headline,
        "training_target": training_target,
        "n_test_tiles": len(truth),
        "n_test_images": len(set(meta["file"].tolist())),
        "methods": methods,
        "comparison": {f"{model} vs classical": compare(methods, model, training_target)},
        "figures": [figure.name],
        "definitions": {
            "psnr": f"dB, tile in noise units clipped to {list(CLIP_SIGMA)} sigma (data range 110), mean over tiles",
            "ssim": "structural similarity on the same clipped scale, mean over usable pixels and tiles",
            "rmse_sigma": "RMSE against the clean truth in units of the input noise (unclipped)",
            "verdict": "95 % interval of the PSNR difference from a bootstrap of whole test images",
        },
        "provenance": provenance(inputs=[test, *predictions.values()]),
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    store.close()
    return metrics
