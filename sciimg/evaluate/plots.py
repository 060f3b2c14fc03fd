"""Figures for the evaluation and the report (matplotlib, written atomically)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import AsinhNorm

from sciimg.io.atomic import atomic_path


def _save(fig: plt.Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def _values(items: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in items], dtype=float)


def _intervals(items: Sequence[Sequence[float] | None]) -> np.ndarray:
    return np.array([[np.nan, np.nan] if v is None else v for v in items], dtype=float)


def plot_energy_performance(metrics: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Resolution and bias vs true energy, one line per method, with 95 % bootstrap intervals."""
    bins = metrics["bins"]
    edges, axis = np.asarray(bins["edges"]), f"{bins['quantity']} [{bins['unit']}]"
    centres = np.sqrt(edges[:-1] * edges[1:])
    fig, (ax_res, ax_bias) = plt.subplots(1, 2, figsize=(11, 4))
    for name, values in metrics["methods"].items():
        for ax, key in ((ax_res, "resolution"), (ax_bias, "bias")):
            centre, interval = _values(values[key]), _intervals(values[f"{key}_ci"])
            errors = np.abs(interval.T - centre)
            ax.errorbar(centres, centre, yerr=errors, fmt="o-", capsize=2, label=name)
    for ax, label in (
        (ax_res, "resolution (68% of |E_reco/E_true - 1|)"),
        (ax_bias, "bias (median of E_reco/E_true - 1)"),
    ):
        ax.set_xscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax_bias.axhline(0.0, color="k", lw=0.8)
    ax_res.legend()
    fig.suptitle(f"{metrics['experiment']}: energy reconstruction on held-out test events (95% bootstrap bars)")
    _save(fig, path)


def plot_migration(matrices: Mapping[str, np.ndarray], edges: np.ndarray, axis: str, path: str | os.PathLike) -> None:
    """Energy migration matrices (fraction of each true-energy bin per reconstructed bin), one per method.

    ``axis`` names the binned quantity with its unit, e.g. ``true energy [TeV]``.
    """
    fig, axes = plt.subplots(1, len(matrices), figsize=(5 * len(matrices), 4.2), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items(), strict=True):
        shown = ax.pcolormesh(edges, edges, matrix.T, cmap="magma", vmin=0.0, vmax=max(matrix.max(), 1e-9))
        ax.plot(edges[[0, -1]], edges[[0, -1]], color="w", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel(f"reconstructed {axis}")
        ax.set_title(name)
        fig.colorbar(shown, ax=ax, label="fraction of the true-energy bin")
    fig.suptitle("energy migration on held-out test events")
    _save(fig, path)


def plot_camera_examples(grids: np.ndarray, valid: np.ndarray, titles: Sequence[str], path: str | os.PathLike) -> None:
    """A row of camera images (axial grids; cells without a pixel left blank)."""
    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids), 3.2))
    for ax, grid, title in zip(np.atleast_1d(axes), grids, titles, strict=True):
        shown = ax.imshow(
            np.where(valid, grid, np.nan), origin="lower", cmap="viridis", norm=AsinhNorm(linear_width=5.0)
        )
        fig.colorbar(shown, ax=ax, shrink=0.7)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("test images on the axial grid (charge in p.e., asinh colour scale)")
    _save(fig, path)
