"""Three projections of detector events: classes (truth next to each method), keypoints, efficiency-purity curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from sciimg.io.atomic import atomic_path
from sciimg.io.volumes import SparseEvent

PROJECTIONS = (("x", "z", 2, 0), ("y", "z", 1, 0), ("x", "y", 2, 1))  # (horizontal, vertical, axis, axis)
COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#bbbbbb", "#8c564b", "#e377c2")


def plot_event_views(
    events: Sequence[SparseEvent], methods: Mapping[str, Sequence[np.ndarray]], classes: Sequence[str], path: Path
) -> None:
    """One row per event and labelling (truth, then each method), three projections each."""
    rows = [("truth", event, event.semantic) for event in events]
    rows = [r for i, event in enumerate(events) for r in [rows[i]] + [(n, event, m[i]) for n, m in methods.items()]]
    cmap = ListedColormap(COLOURS[: len(classes)])
    fig, axes = plt.subplots(len(rows), 3, figsize=(10, 3.1 * len(rows)), squeeze=False)
    for (name, event, labels), row in zip(rows, axes, strict=True):
        for (h, v, a, b), ax in zip(PROJECTIONS, row, strict=True):
            ax.scatter(
                event.coords[:, a],
                event.coords[:, b],
                c=labels,
                cmap=cmap,
                vmin=-0.5,
                vmax=len(classes) - 0.5,
                s=2,
                linewidths=0,
            )
            ax.set_xlabel(f"{h} [voxel]")
            ax.set_ylabel(f"{v} [voxel]")
            ax.set_aspect("equal")
        row[0].set_title(f"event {event.event_id}: {name}", loc="left", fontsize=9)
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, label=n) for n, c in zip(classes, COLOURS, strict=False)]
    fig.legend(handles=handles, loc="upper right", ncol=len(classes), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def plot_keypoint_curves(methods: Mapping[str, Mapping], radii: Sequence[float], path: Path) -> None:
    """Purity against efficiency over score cuts, one panel per matching radius, one line per method."""
    fig, axes = plt.subplots(1, len(radii), figsize=(5 * len(radii), 4), squeeze=False)
    for radius, ax in zip(radii, axes[0], strict=True):
        for name, values in methods.items():
            result = values[f"curve_within_{radius:g}_voxels"]
            purity = np.array([np.nan if p is None else p for p in result["purity"]])
            ax.plot(result["efficiency"], purity, ".-", label=name)
        ax.axhline(0.9, color="k", lw=0.8, ls="--")
        ax.set_xlabel(f"efficiency within {radius:g} voxels")
        ax.set_ylabel("purity")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.suptitle("track end points on held-out events (each point of a line is a score cut)")
    fig.tight_layout()
    _save(fig, path)


def plot_keypoint_views(
    events: Sequence[SparseEvent],
    truth: Sequence[np.ndarray],
    methods: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    cuts: Mapping[str, float | None],
    path: Path,
) -> None:
    """Per event, three projections: charge (grey), truth keypoints (circles), each method's points at its cut."""
    markers = ("x", "+", "^", "s")
    fig, axes = plt.subplots(len(events), 3, figsize=(10, 3.3 * len(events)), squeeze=False)
    for index, (event, true, row) in enumerate(zip(events, truth, axes, strict=True)):
        for (h, v, a, b), ax in zip(PROJECTIONS, row, strict=True):
            ax.scatter(event.coords[:, a] + 0.5, event.coords[:, b] + 0.5, c="#999999", s=2, linewidths=0)
            ax.scatter(true[:, a], true[:, b], s=60, facecolors="none", edgecolors="k", label="truth")
            for (name, found), marker, colour in zip(methods.items(), markers, COLOURS, strict=False):
                points, scores = found[index]
                cut = cuts.get(name)
                kept = points[scores >= cut] if cut is not None else points
                ax.scatter(kept[:, a], kept[:, b], marker=marker, s=40, color=colour, label=name)
            ax.set_xlabel(f"{h} [voxel]")
            ax.set_ylabel(f"{v} [voxel]")
            ax.set_aspect("equal")
        row[0].set_title(f"event {event.event_id}", loc="left", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.suptitle("keypoints: truth (circles) and each method's points at its purity-0.9 cut")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    _save(fig, path)
