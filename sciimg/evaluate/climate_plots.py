"""Figures of temperature fields: maps of truth, input, each method and its error; area means."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from sciimg.evaluate.plots import _save, plt
from sciimg.io.netcdf import open_field
from sciimg.io.store import SampleStore


def _map(ax, values: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, limit: float, cmap: str = "RdBu_r"):
    order = np.argsort(lon)
    image = ax.pcolormesh(lon[order], lat, values[:, order], cmap=cmap, vmin=-limit, vmax=limit, shading="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot_maps(
    path: Path,
    store: SampleStore,
    truth: np.ndarray,
    fields: Mapping[str, np.ndarray],
    observed: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
) -> Path:
    """One test step (the one with median coverage): truth, input, each method; errors below."""
    coverage = observed.reshape(len(observed), -1).mean(axis=1)
    step = int(np.argsort(coverage)[len(coverage) // 2])
    limit = float(np.nanpercentile(np.abs(truth[step]), 98)) or 1.0
    columns = 2 + len(fields)
    fig, axes = plt.subplots(2, columns, figsize=(2.6 * columns, 4.4), squeeze=False)
    _map(axes[0, 0], truth[step], lat, lon, "truth", limit)
    _map(axes[0, 1], np.where(observed[step], truth[step], np.nan), lat, lon, "input (observed)", limit)
    axes[1, 0].axis("off")
    axes[1, 1].axis("off")
    error_limit = limit / 2
    for k, (name, field) in enumerate(fields.items()):
        image = _map(axes[0, 2 + k], field[step], lat, lon, name, limit)
        error = _map(axes[1, 2 + k], field[step] - truth[step], lat, lon, f"{name} - truth", error_limit, "PuOr_r")
    fig.colorbar(image, ax=axes[0, :].tolist(), shrink=0.8, label="anomaly [K]")
    fig.colorbar(error, ax=axes[1, 2:].tolist(), shrink=0.8, label="error [K]")
    year, month = int(store.read("meta/year")[step]), int(store.read("meta/month")[step])
    fig.suptitle(f"test step {year}-{month:02d}: {coverage[step]:.0%} of cells observed", fontsize=10)
    _save(fig, path)
    return path


def plot_area_means(path: Path, store: SampleStore, truth: list[float], methods: Mapping[str, list[float]]) -> Path:
    """Area-mean anomaly of each test step: truth and every method."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    x = np.arange(len(truth))
    ax.plot(x, truth, color="black", lw=2, label="truth")
    for name, series in methods.items():
        ax.plot(x, series, lw=1, label=name)
    ax.set_xlabel("test step (years in random order, months in order)")
    ax.set_ylabel("area-mean anomaly [K]")
    ax.legend(fontsize=8, ncol=len(methods) + 1)
    _save(fig, path)
    return path


def plot_applied(path: Path, source: str | os.PathLike, output: str | os.PathLike) -> Path:
    """A real file with gaps, and the model's infilled version of it (first and last step)."""
    original, _ = open_field(source)
    filled, info = open_field(output)
    with xr.open_dataset(output) as ds:
        flags = ds[f"{info.variable}_infilled"].values.reshape(filled.shape)
    steps = sorted({0, filled.sizes["time"] - 1})
    fig, axes = plt.subplots(len(steps), 2, figsize=(9, 3.3 * len(steps)), squeeze=False)
    lat, lon = filled.lat.values, filled.lon.values
    for row, step in enumerate(steps):
        before, after = original.values[step], filled.values[step]
        centre = np.nanmedian(after) if not info.is_anomaly else 0.0
        limit = float(np.nanpercentile(np.abs(after - centre), 98)) or 1.0
        label = str(filled.time.values[step])[:10] if "time" in filled.coords else str(step)
        _map(axes[row, 0], before - centre, lat, lon, f"{Path(source).name} {label}: input", limit)
        image = _map(axes[row, 1], after - centre, lat, lon, f"infilled ({flags[step].mean():.0%} of cells)", limit)
        fig.colorbar(image, ax=axes[row, :].tolist(), shrink=0.8, label="K" if info.is_anomaly else "K - median")
    _save(fig, path)
    return path
