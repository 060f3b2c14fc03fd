"""Figures of sky-image results: cutouts of truth, input and every method on one stretch; cleaning ROC curves;
detection completeness and cutouts."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table

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


def plot_completeness(path: Path, methods: Mapping[str, Mapping], edges: Sequence[float]) -> Path:
    """Completeness per true-SNR bin: each method at its cut for the target purity (solid) and for 0.95
    (dashed), both set on validation."""
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    centres = [np.sqrt(lo * hi) if np.isfinite(hi) else lo * 1.5 for lo, hi in itertools.pairwise(edges)]
    for k, (name, scores) in enumerate(methods.items()):
        colour = f"C{k}"
        for values, style, label in (
            (scores["completeness"], "-", f"{name} (purity {scores['purity'] or 0:.3f})"),
            (scores.get("at_purity_0.95", {}).get("completeness", []), "--", None),
        ):
            if not values:
                continue
            y = [np.nan if v is None else v for v in values]
            ax.plot(centres, y, style, color=colour, marker="o", ms=3, label=label)
    ax.axvline(5.0, color="0.7", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("true signal-to-noise")
    ax.set_ylabel("completeness")
    ax.set_title("cuts set on validation: solid, target purity; dashed, purity 0.95", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_detection_cutouts(
    path: Path,
    truth,
    catalogs: Mapping[str, Table],
    pair_centres: Sequence[Sequence[tuple[float, float]]],
    n_cutouts: int = 3,
    size: int = 40,
) -> Path:
    """Cutouts around close pairs of the test tiles (``pair_centres``, (y, x) per tile); truth sources at
    SNR >= 3 circled, each method's kept detections crossed (one column per method)."""
    spots = [(row, pair) for row, pairs in enumerate(pair_centres) for pair in pairs][:n_cutouts]
    if not spots:
        spots = [(row, None) for row in range(min(n_cutouts, len(truth.sources)))]
    fig, axes = plt.subplots(len(spots), len(catalogs), figsize=(2.4 * len(catalogs), 2.4 * len(spots)), squeeze=False)
    for r, (row, centre) in enumerate(spots):
        ny, nx = truth.image[row].shape
        cy, cx = centre if centre is not None else (ny / 2, nx / 2)
        y0 = int(np.clip(cy - size / 2, 0, max(ny - size, 0)))
        x0 = int(np.clip(cx - size / 2, 0, max(nx - size, 0)))
        cut = (slice(y0, y0 + size), slice(x0, x0 + size))
        stretched = np.arcsinh((truth.image[row][cut] - truth.plane[row][cut]) / truth.sigma[row] / 3)
        sources = truth.sources[row][truth.sources[row]["snr"] >= 3]
        for c, (name, catalog) in enumerate(catalogs.items()):
            ax = axes[r, c]
            ax.imshow(stretched, origin="lower", cmap="gray", vmin=-1, vmax=5)
            ax.scatter(sources["x"] - x0, sources["y"] - y0, s=40, facecolors="none", edgecolors="cyan", lw=0.7)
            kept = catalog[
                (np.asarray(catalog["tile"]) == row) & (np.asarray(catalog["score"]) >= catalog.meta["THRESH"])
            ]
            ax.scatter(np.asarray(kept["x"]) - x0, np.asarray(kept["y"]) - y0, s=18, marker="x", color="red", lw=0.8)
            ax.set_xlim(-0.5, size - 0.5)
            ax.set_ylim(-0.5, size - 0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
    return _save(fig, path)


def plot_injection_cutouts(path: Path, panels: Sequence[tuple], n_stars: int = 4, size: int = 32) -> Path:
    """Per real image, injected stars near SNR 5: before, after, and after with each method's detections.

    Cyan circles: injected stars; red crosses: detections.
    """
    rows = []
    for name, before, after, stars, found in panels:
        faint = np.flatnonzero((np.asarray(stars["snr"]) >= 4) & (np.asarray(stars["snr"]) < 8))[:n_stars]
        rows += [(name, before, after, stars, found, int(i)) for i in faint]
    methods = list(panels[0][4]) if panels else []
    columns = ["before", "after", *methods]
    fig, axes = plt.subplots(max(len(rows), 1), len(columns), figsize=(2.1 * len(columns), 2.2 * max(len(rows), 1)))
    axes = np.atleast_2d(axes)
    for r, (name, before, after, stars, found, i) in enumerate(rows):
        x, y = float(stars["x"][i]), float(stars["y"][i])
        y0 = int(np.clip(round(y) - size // 2, 0, max(before.shape[0] - size, 0)))
        x0 = int(np.clip(round(x) - size // 2, 0, max(before.shape[1] - size, 0)))
        cut = (slice(y0, y0 + size), slice(x0, x0 + size))
        sky, sigma = np.nanmedian(before[cut]), max(float(np.nanstd(before)), 1e-9)
        for c, column in enumerate(columns):
            ax = axes[r, c]
            values = before if column == "before" else after
            ax.imshow(np.arcsinh((values[cut] - sky) / sigma * 3), origin="lower", cmap="gray", vmin=-1, vmax=4)
            if column != "before":
                ax.scatter([x - x0], [y - y0], s=80, facecolors="none", edgecolors="cyan", lw=0.7)
            if column in found:
                table = found[column]
                ax.scatter(np.asarray(table["x"]) - x0, np.asarray(table["y"]) - y0, s=20, marker="x", color="red")
            ax.set_xlim(-0.5, size - 0.5)
            ax.set_ylim(-0.5, size - 0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{name}\nSNR {float(stars['snr'][i]):.1f}", fontsize=7)
    return _save(fig, path)
