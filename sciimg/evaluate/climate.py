"""Evaluate gap filling / denoising of temperature fields against the truth of the test years.

Scores are computed on the cells each method had to fill (inpainting: unobserved cells
with known truth; denoising: every cell with known truth), weighted by cos(latitude) so
that each cell counts by its area (WeatherBench's convention):

* ``rmse``, ``bias``: latitude-weighted, over all scored cells of all test steps (K);
* ``area_mean_rmse``, ``area_mean_r``: of the area-mean anomaly time series over the
  domain (observed cells plus filled ones) against the true area mean (Kadow et al. 2020).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sciimg.errors import InputError
from sciimg.evaluate.climate_plots import plot_applied, plot_area_means, plot_maps
from sciimg.evaluate.verdict import root_ratio_figure, verdict
from sciimg.io.atomic import write_text_atomic
from sciimg.io.netcdf import CELSIUS, FieldInfo
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance

CLASSICAL = ("kriging", "eof", "idw", "biharmonic", "gaussian_filter", "climatology")
METHOD_ATTRS = ("sciimg_cpu_seconds_per_field", "sciimg_settings")  # what outputs record of their method
TARGETS = {"max_rmse_ratio_to_best_classical": 0.7, "max_rmse_ratio_to_biharmonic": 0.5, "min_area_mean_r": 0.99}


def read_anomalies(path: str | os.PathLike, store: SampleStore) -> tuple[np.ndarray, dict[str, Any]]:
    """A method's NetCDF output as anomalies ``(N, Y, X)`` with respect to the store's climatology,
    and what the method recorded of itself (CPU time per field, chosen settings)."""
    info = FieldInfo.from_json(store.attrs["field_info"])
    try:
        ds = xr.open_dataset(path, decode_times=False)
    except (OSError, ValueError) as error:  # not NetCDF, damaged, a folder
        raise InputError(f"{path}: not a readable NetCDF file ({error})") from None
    with ds:
        if info.variable not in ds:
            raise InputError(f"{path}: has no variable {info.variable!r} to evaluate")
        values = ds[info.variable].values.astype(np.float64)
        recorded = {k.removeprefix("sciimg_"): ds.attrs[k] for k in METHOD_ATTRS if k in ds.attrs}
        std_name = f"{info.variable}_std"
        if std_name in ds:
            recorded["std"] = ds[std_name].values.astype(np.float64).reshape(-1, *values.shape[-2:])
    values = values.reshape(-1, *values.shape[-2:])
    if info.units in CELSIUS and not info.is_anomaly:
        values = values + 273.15  # outputs keep the source's units
    if len(values) != len(store):
        raise InputError(f"{path}: has {len(values)} time steps, the test split {len(store)}")
    climatology = store.read("extra/climatology")
    if "settings" in recorded:
        recorded["settings"] = json.loads(recorded["settings"])
    return values - climatology[store.read("meta/month") - 1], recorded


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation, or None where it is undefined (fewer than 2 steps, a constant series)."""
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def field_scores(prediction: np.ndarray, truth: np.ndarray, scored: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """Latitude-weighted RMSE and bias on ``scored`` cells; area-mean series RMSE and correlation."""
    weights = np.broadcast_to(np.cos(np.radians(lat))[None, :, None], truth.shape)
    error = prediction - truth
    w = weights[scored]
    if w.sum() == 0:
        raise InputError("the test split has no scored cells (no gaps with known truth)")
    known = np.isfinite(truth) & np.isfinite(prediction)
    area_w = np.where(known, weights, 0.0)
    norm = area_w.sum(axis=(1, 2))
    true_mean = (np.where(known, truth, 0.0) * area_w).sum((1, 2)) / norm
    pred_mean = (np.where(known, prediction, 0.0) * area_w).sum((1, 2)) / norm
    return {
        "rmse": float(np.sqrt((w * error[scored] ** 2).sum() / w.sum())),
        "bias": float((w * error[scored]).sum() / w.sum()),
        "area_mean_rmse": float(np.sqrt(np.mean((pred_mean - true_mean) ** 2))),
        "area_mean_r": _correlation(pred_mean, true_mean),
        "scored_cells": int(scored.sum()),
        "area_mean": pred_mean.tolist(),
    }


def calibration(
    prediction: np.ndarray, std: np.ndarray, truth: np.ndarray, scored: np.ndarray, lat: np.ndarray
) -> dict[str, float]:
    """How honest a method's std is on the scored cells (latitude-weighted): the share of errors within
    1 std (0.68 for a calibrated Gaussian) and the RMS std over the RMSE (1 when the spread is right)."""
    weights = np.broadcast_to(np.cos(np.radians(lat))[None, :, None], truth.shape)[scored]
    error, sigma = np.abs(prediction - truth)[scored], std[scored]
    rmse = np.sqrt((weights * error**2).sum() / weights.sum())
    return {
        "coverage_1sigma": float((weights * (error <= sigma)).sum() / weights.sum()),
        "spread_over_rmse": float(np.sqrt((weights * sigma**2).sum() / weights.sum()) / rmse),
    }


def step_errors(prediction: np.ndarray, truth: np.ndarray, scored: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Per time step: latitude-weighted squared error summed over the scored cells, and the summed weight."""
    weights = np.broadcast_to(np.cos(np.radians(lat))[None, :, None], truth.shape)
    squared = np.where(scored, weights * (prediction - truth) ** 2, 0.0)
    return np.stack([squared.sum(axis=(1, 2)), np.where(scored, weights, 0.0).sum(axis=(1, 2))], axis=1)


def compare(methods: Mapping[str, Mapping[str, Any]], model: str) -> dict[str, Any]:
    """The model's RMSE over the best classical method's and over biharmonic's, against the targets."""
    classical = {m: v["rmse"] for m, v in methods.items() if m in CLASSICAL}
    if not classical:
        return {}
    best = min(classical, key=classical.get)
    result: dict[str, Any] = {
        "best_classical": best,
        "rmse_ratio_to_best_classical": methods[model]["rmse"] / classical[best],
        "targets": TARGETS,
    }
    checks = [result["rmse_ratio_to_best_classical"] <= TARGETS["max_rmse_ratio_to_best_classical"]]
    if "biharmonic" in classical:
        result["rmse_ratio_to_biharmonic"] = methods[model]["rmse"] / classical["biharmonic"]
        checks.append(result["rmse_ratio_to_biharmonic"] <= TARGETS["max_rmse_ratio_to_biharmonic"])
    if "floor" in methods:  # the best any method can do, on simulated fields
        result["rmse_ratio_to_floor"] = methods[model]["rmse"] / methods["floor"]["rmse"]
    r = methods[model]["area_mean_r"]
    checks.append(r is not None and r >= TARGETS["min_area_mean_r"])
    result["targets_met"] = bool(all(checks))
    return result


def evaluate_fields(
    experiment: str,
    predictions: Mapping[str, str | os.PathLike],
    test: str | os.PathLike,
    out_dir: str | os.PathLike,
    applied: Mapping[str, str | os.PathLike] | None = None,
) -> dict[str, Any]:
    """Score every method on the test split; write ``metrics.json`` and the figures.

    Args:
        predictions: method name -> NetCDF output on the test store, the model first.
        applied: real input file -> the model's output on it (maps only: no truth).
    """
    out_dir = Path(out_dir)
    store = SampleStore(test)
    truth = store.read("target")[:, 0].astype(np.float64)
    observed = store.read("mask")[:, 0].astype(bool)
    extra = store.extra()
    lat, lon, domain = extra["lat"], extra["lon"], extra["domain"].astype(bool)
    task = store.attrs["task"]
    scored = np.isfinite(truth) & domain[None]
    if store.attrs["corruption"] == "gaps":  # inpainting is scored on the gaps it fills
        scored &= ~observed
    read = {name: read_anomalies(path, store) for name, path in predictions.items()}
    fields = {name: field for name, (field, _) in read.items()}
    methods = {name: field_scores(field, truth, scored, lat) for name, field in fields.items()}
    for name, (field, recorded) in read.items():
        std = recorded.pop("std", None)
        if std is not None:
            methods[name].update(calibration(field, std, truth, scored, lat))
    model = next(iter(predictions))
    true_mean = field_scores(truth, truth, scored, lat)["area_mean"]
    figures = [
        plot_maps(out_dir / "field_maps.png", store, truth, fields, observed, lat, lon),
        plot_area_means(out_dir / "area_mean.png", store, true_mean, {k: v["area_mean"] for k, v in methods.items()}),
    ]
    for source, output in (applied or {}).items():
        figures.append(plot_applied(out_dir / f"applied_{Path(source).stem}.png", source, output))
    errors = {name: step_errors(field, truth, scored, lat) for name, field in fields.items()}
    years = store.read("meta/year")
    headline = verdict("RMSE", errors, root_ratio_figure, True, model, CLASSICAL, "time steps", years, "K")
    metrics = {
        "experiment": experiment,
        "task": task,
        "modality": "climate",
        "verdict": headline,
        "n_test_steps": len(store),
        "test_years": sorted(set(store.read("meta/year").tolist())),
        "observed_fraction": float(observed[:, domain].mean()),
        "methods": {
            name: {**{k: v for k, v in values.items() if k != "area_mean"}, **read[name][1]}
            for name, values in methods.items()
        },
        "comparison": {f"{model} vs classical": compare(methods, model)},
        "figures": [f.name for f in figures],
        "definitions": {
            "rmse": "latitude-weighted RMSE (K) on cells the method filled with known truth",
            "bias": "latitude-weighted mean error (K) on the same cells",
            "area_mean_rmse": "RMSE (K) of the area-mean anomaly time series over the domain",
            "area_mean_r": "correlation of the area-mean anomaly time series with the truth",
            "verdict": "95 % interval of the RMSE difference from a bootstrap of whole test years",
            "cpu_seconds_per_field": "CPU time (all threads) the method took per test field, fitting excluded",
            "settings": "what the method fitted on train or chose on validation",
            "coverage_1sigma": "share of scored cells whose error is within the method's own std (0.68 if calibrated)",
            "spread_over_rmse": "RMS of the method's std over its RMSE (1 if the std is the right size)",
        },
        "provenance": provenance(inputs=[test, *predictions.values()]),
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    store.close()
    return metrics
