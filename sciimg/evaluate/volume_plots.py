"""Three projections of detector events, coloured by class: the truth next to each method."""

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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
