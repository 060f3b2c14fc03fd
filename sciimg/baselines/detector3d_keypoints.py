"""Classical track end points: the two ends of each straight cluster's principal axis.

Voxels above a charge threshold are grouped into clusters of touching voxels
(26-connectivity, as for :mod:`sciimg.baselines.detector3d_segment`); a cluster of at least
``min_voxels`` whose first principal axis holds at least ``linearity`` of its spatial
variance is a track, and its two end points are its voxels that lie furthest along that
axis in either direction. Each point's score is its cluster's linearity. A vertex where
several tracks meet is one cluster with two ends, which is the method's known limit. The
cuts are fitted on train events for the best F1 of points within 3 voxels of a truth point.
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

from sciimg.baselines import FIT_EVENTS
from sciimg.baselines.detector3d_segment import clusters
from sciimg.geometry.voxels import VoxelGrid
from sciimg.io.catalogs import write_catalog
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import stored_events, stored_keypoints
from sciimg.outputs import point_catalog, point_rows
from sciimg.provenance import provenance
from sciimg.scoring import match_positions

log = logging.getLogger(__name__)

THRESHOLD_QUANTILES = (0.0, 0.03, 0.1)  # of the train voxels' charges
MIN_VOXELS = (3, 5, 10)
LINEARITIES = (0.6, 0.75, 0.9)
FIT_RADIUS = 3.0  # voxels


@dataclass(frozen=True)
class PCAEnds:
    """The baseline's three cuts."""

    threshold: float = -np.inf
    min_voxels: int = 5
    linearity: float = 0.75

    def find(self, coords: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voxel indices ``(k, 3)`` of the end points of an event's straight clusters, and their scores."""
        coords = np.asarray(coords)
        found = clusters(coords, values, self.threshold)
        points, scores = [], []
        for c in np.flatnonzero((found.size >= self.min_voxels) & (found.linearity >= self.linearity)):
            members = coords[found.member == c]
            centred = members - members.mean(axis=0)
            axis = np.linalg.eigh(np.cov(centred.T))[1][:, -1]
            along = centred @ axis
            points += [members[np.argmin(along)], members[np.argmax(along)]]
            scores += [found.linearity[c]] * 2
        return np.array(points, np.int64).reshape(-1, 3), np.array(scores, np.float32)

    @classmethod
    def fit(cls, events: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> PCAEnds:
        """The cuts with the best F1 within :data:`FIT_RADIUS` on ``events`` of (coords, values, truth keypoints)."""
        charges = np.concatenate([values for _, values, _ in events])
        thresholds = [np.quantile(charges, q, method="lower") if q > 0 else -np.inf for q in THRESHOLD_QUANTILES]
        n_truth = sum(len(truth) for _, _, truth in events)
        best, best_f1 = cls(), -1.0
        for threshold, min_voxels, linearity in itertools.product(thresholds, MIN_VOXELS, LINEARITIES):
            candidate = cls(threshold, min_voxels, linearity)
            matched = n_found = 0
            for coords, values, truth in events:
                points, _ = candidate.find(coords, values)
                n_found += len(points)
                matched += len(match_positions(truth, points + 0.5, FIT_RADIUS)[0])
            f1 = 2 * matched / max(n_truth + n_found, 1)
            if f1 > best_f1:
                best, best_f1 = candidate, f1
        return best


def run_keypoint_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Track end points of every test event by PCA of straight clusters, the cuts fitted on train events."""

    if name != "pca_ends":
        raise ValueError(f"baseline must be one of ['pca_ends'] for detector keypoints, got {name!r}")
    truth = stored_keypoints(train)[:FIT_EVENTS]
    fitting = [(e.coords, e.values, t) for e, t in zip(stored_events(train)[:FIT_EVENTS], truth, strict=True)]
    method = PCAEnds.fit(fitting)
    log.info("%s: cuts %s fitted on %d train events", name, method, len(fitting))
    grid = VoxelGrid.of(**test.attrs["grid"])
    rows, seconds = [], []
    for event in stored_events(test):
        started = time.perf_counter()
        points, scores = method.find(event.coords, event.values)
        seconds.append(time.perf_counter() - started)
        rows.append(point_rows(event.event_id, points, scores, grid))
    table = point_catalog(rows, grid, seconds)
    table.meta.update({"baseline": name, "cuts": {key: float(value) for key, value in method.__dict__.items()}})
    prov = provenance(inputs=[train.path, test.path])
    return write_catalog(table, output, prov, f"baseline {name} (all end points; score = cluster linearity)")
