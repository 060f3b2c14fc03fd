"""Classical voxel classes: charge threshold, connected components, and a PCA shape cut per cluster.

Voxels at or below the charge threshold (a quantile of the train charges) are noise. The
rest are grouped into clusters of touching voxels (26-connectivity); a cluster smaller
than ``min_voxels`` is a low-energy scatter, a cluster whose first principal axis holds at
least ``linearity`` of its spatial variance is a track, and any other cluster is a shower.
It cannot name Michel electrons or delta rays (they are electrons hanging off a track),
which is what the network adds. The three cuts are fitted on the train split by a grid
search for the best mean F1.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sciimg.baselines import FIT_EVENTS
from sciimg.errors import InputError
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import stored_events
from sciimg.io.volumes import SparseEvent, write_sparse_volumes
from sciimg.provenance import provenance
from sciimg.scoring import class_scores

log = logging.getLogger(__name__)

THRESHOLD_QUANTILES = (0.0, 0.01, 0.03, 0.06, 0.1, 0.15)  # of the train voxels' charges
MIN_VOXELS = (2, 3, 5, 8, 12)
LINEARITIES = (0.8, 0.85, 0.9, 0.95, 0.98)


@dataclass(frozen=True)
class Clusters:
    """Clusters above a threshold: per voxel its cluster (-1 below); per cluster its size and linearity."""

    member: np.ndarray
    size: np.ndarray
    linearity: np.ndarray


def clusters(coords: np.ndarray, values: np.ndarray, threshold: float) -> Clusters:
    """Clusters of touching voxels (26-connectivity) with charge above ``threshold``."""
    member = np.full(len(coords), -1)
    kept = np.flatnonzero(values > threshold)
    if len(kept) == 0:
        return Clusters(member, np.zeros(0, int), np.zeros(0))
    points = coords[kept].astype(float)
    pairs = cKDTree(points).query_pairs(np.sqrt(3) + 1e-6, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(kept), len(kept)))
    n, labels = connected_components(graph, directed=False)
    member[kept] = labels
    size = np.bincount(labels, minlength=n)
    linearity = np.ones(n)
    for c in np.flatnonzero(size >= 2):
        spread = np.linalg.eigvalsh(np.cov(points[labels == c].T))
        linearity[c] = spread[-1] / max(spread.sum(), 1e-9)
    return Clusters(member, size, linearity)


@dataclass(frozen=True)
class ThresholdPCA:
    """The baseline's three cuts; class indices follow ``classes`` (names as in the store)."""

    threshold: float = 0.0
    min_voxels: int = 5
    linearity: float = 0.9

    def classify(self, found: Clusters, classes: Sequence[str]) -> np.ndarray:
        """Class per voxel from its cluster."""
        index = {name: i for i, name in enumerate(classes)}
        per_cluster = np.where(found.linearity >= self.linearity, index["track"], index["shower"])
        per_cluster = np.where(found.size < self.min_voxels, index["low_energy"], per_cluster)
        labels = np.full(len(found.member), index["noise"], np.int8)
        inside = found.member >= 0
        labels[inside] = per_cluster[found.member[inside]]
        return labels

    def __call__(self, coords: np.ndarray, values: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        return self.classify(clusters(coords, values, self.threshold), classes)

    @classmethod
    def fit(cls, events: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], classes: Sequence[str]) -> ThresholdPCA:
        """The cuts with the best mean F1 (over the classes present) on ``events`` of (coords, values, labels)."""
        truth = np.concatenate([labels for _, _, labels in events])
        charges = np.concatenate([values for _, values, _ in events])
        thresholds = [np.quantile(charges, q, method="lower") if q > 0 else -np.inf for q in THRESHOLD_QUANTILES]
        best, best_f1 = cls(), -1.0
        for threshold in thresholds:
            found = [clusters(coords, values, threshold) for coords, values, _ in events]
            for min_voxels, linearity in itertools.product(MIN_VOXELS, LINEARITIES):
                candidate = cls(threshold, min_voxels, linearity)
                predicted = np.concatenate([candidate.classify(f, classes) for f in found])
                f1 = class_scores(truth, predicted, len(classes))["f1"]
                mean_f1 = float(np.nanmean(f1))
                if mean_f1 > best_f1:
                    best, best_f1 = candidate, mean_f1
        return best


def run_volume_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Voxel classes of every test event by the classical chain, its cuts fitted on train events."""

    if name != "threshold_pca":
        raise ValueError(f"baseline must be one of ['threshold_pca'] for detector volumes, got {name!r}")
    classes = list(test.attrs["classes"])
    missing = sorted({"track", "shower", "low_energy", "noise"} - set(classes))
    if missing:
        raise InputError(
            f"{test.path}: threshold_pca names the classes track, shower, low_energy and noise; {missing} "
            f"are not among the data's classes {classes}"
        )
    fitting = [(e.coords, e.values, e.semantic) for e in stored_events(train)[:FIT_EVENTS]]
    method = ThresholdPCA.fit(fitting, classes)
    log.info("%s: cuts %s fitted on %d train events", name, method, len(fitting))
    predicted, seconds = [], []
    for event in stored_events(test):
        started = time.perf_counter()
        labels = method(event.coords, event.values, classes)
        seconds.append(time.perf_counter() - started)
        predicted.append(SparseEvent(event.event_id, event.coords, event.values, semantic=labels))
    grid = test.attrs["grid"]
    attrs = {
        "grid": grid["shape"],
        "pitch_mm": grid["pitch_mm"],
        "origin_mm": grid["origin_mm"],
        "classes": classes,
        "value_units": test.attrs["units"]["image"],
        "seconds_per_event": seconds,
        "baseline": name,
        "cuts": {key: float(value) for key, value in method.__dict__.items()},
        "provenance": provenance(inputs=[train.path, test.path]),
    }
    return write_sparse_volumes(output, predicted, attrs)
