"""Figures of sky-image results: cutouts of truth, input and every method on one stretch; cleaning ROC curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sciimg.io.atomic import atomic_path

CUTOUT = 96


def brightest_cutout(truth: np.ndarray, usable: np.ndarray, size: int) -> tuple[slice, slice]:
    """A ``size`` square around the tile's most source-rich region (largest sum of truth above the median)."""
    ny, nx = truth.shape
    size = min(size, ny, nx)
    signal = np.where(usable, truth - np.median(truth[usable]), 0.0).clip(0, None)
    cumulative = signal.cumsum(0).cumsum(1)
    padded = np.pad(cumulative, ((1, 0), (1, 0)))
    sums = padded[size:, size:] - padded[:-size, size:] - padded[size:, :-size] + padded[:-size, :-size]
    y, x = np.unravel_index(np.argmax(np.log1p(sums)), sums.shape)
    return slice(y, y + size), slice(x, x + size)


def plot_cutouts(
    path: Path,
    truth: np.ndarray,
    images: Mapping[str, np.ndarray],
    usable: np.ndarray,
    meta: Mapping[str, np.ndarray],
    n_tiles: int = 3,
) -> Path:
    """Rows: test tiles; columns: truth, noisy input, each method (asinh stretch in noise units)."""
    rows = min(n_tiles, len(truth))
    columns = ["truth", *images]
    fig, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.3 * rows), squeeze=False)
    for r in range(rows):
        cut = brightest_cutout(truth[r], usable[r], CUTOUT)
        background, sigma = meta["background"][r], meta["sigma"][r]
        for c, name in enumerate(columns):
            values = truth[r] if name == "truth" else images[name][r]
            stretched = np.arcsinh((values[cut] - background) / sigma / 3)
            ax = axes[r, c]
            ax.imshow(stretched, origin="lower", cmap="gray", vmin=-1, vmax=5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def plot_roc(path: Path, methods: Mapping[str, Mapping]) -> Path:
    """Cosmic-ray ROC curves (log false-positive rate) of the methods that give a score map."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, scores in methods.items():
        if "roc_fpr" in scores:
            ax.plot(np.maximum(scores["roc_fpr"], 1e-6), scores["roc_tpr"], label=name)
    for fpr in (0.0005, 0.005):
        ax.axvline(fpr, color="0.7", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false-positive rate (artefact-free pixels flagged)")
    ax.set_ylabel("cosmic-ray pixels found")
    ax.legend(fontsize=8)
    return _save(fig, path)


def densest_cutout(mask: np.ndarray, size: int) -> tuple[slice, slice]:
    """A ``size`` square holding the most ``True`` pixels of a mask."""
    size = min(size, *mask.shape)
    padded = np.pad(mask.astype(float).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = padded[size:, size:] - padded[:-size, size:] - padded[size:, :-size] + padded[:-size, :-size]
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return slice(y, y + size), slice(x, x + size)


def plot_cleaning_cutouts(
    path: Path, truth, layers_of: Mapping[str, Mapping[str, np.ndarray]], n_tiles: int = 3
) -> Path:
    """Rows: test tiles (their most artefact-rich square); columns: input, truth, each method's cleaned image.

    Red contours: the true artefacts on the input, each method's replaced pixels on its image.
    """
    rows = min(n_tiles, len(truth.clean))
    order = np.argsort([-truth.artefacts[r].sum() for r in range(len(truth.clean))])[:rows]
    columns = ["input", "truth", *layers_of]
    fig, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.3 * rows), squeeze=False)
    for r, tile in enumerate(order):
        cut = densest_cutout(truth.artefacts[tile], CUTOUT)
        sky, sigma = np.median(truth.planes[tile]), truth.sigma[tile]
        for c, name in enumerate(columns):
            if name in ("input", "truth"):
                values = truth.noisy[tile] if name == "input" else truth.clean[tile]
                outline = truth.artefacts[tile] if name == "input" else None
            else:
                values, outline = layers_of[name]["TILE"][tile], layers_of[name].get("MASK", [None] * (tile + 1))[tile]
            ax = axes[r, c]
            ax.imshow(np.arcsinh((values[cut] - sky) / sigma / 3), origin="lower", cmap="gray", vmin=-1, vmax=5)
            if outline is not None and outline[cut].any():
                ax.contour(outline[cut].astype(float), levels=[0.5], colors="red", linewidths=0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
    return _save(fig, path)
