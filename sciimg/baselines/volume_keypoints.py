"""Classical track end points: the two ends of each straight cluster's principal axis.

Voxels above a charge threshold are grouped into clusters of touching voxels
(26-connectivity, as for :mod:`sciimg.baselines.volume_segment`); a cluster of at least
``min_voxels`` whose first principal axis holds at least ``linearity`` of its spatial
variance is a track, and its two end points are its voxels that lie furthest along that
axis in either direction. Each point's score is its cluster's linearity. A vertex where
several tracks meet is one cluster with two ends, which is the method's known limit. The
cuts are fitted on train events for the best F1 of points within 3 voxels of a truth point.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sciimg.baselines.volume_segment import clusters
from sciimg.evaluate.matching import match_positions

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
