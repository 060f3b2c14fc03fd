"""Figures of sky-image results: truth, input and every method's cutouts on one stretch."""

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
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
