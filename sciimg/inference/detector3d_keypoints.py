"""Keypoints of detector events: heatmap peaks among occupied voxels, written as a catalog of points.

The keypoint heatmap is computed window by window like voxel classes
(:class:`~sciimg.inference.detector3d.VolumeModel`), kept at occupied voxels only; a point is
an occupied voxel whose heat is at least :data:`SCORE_FLOOR` and no lower than that of any
occupied voxel within :data:`PEAK_RADIUS` voxels (non-maximum suppression). The catalog
(ECSV) has one row per point: ``event_id``, its voxel centre ``z, y, x`` (voxel units of the
model's grid), the same in mm, and its ``score``; choosing a score cut is left to the user
(the evaluation reports efficiency and purity over all cuts).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree
from torch import nn

from sciimg.inference.detector3d import VolumeModel, VoxelProbabilities, input_events
from sciimg.inference.export import WEIGHTS
from sciimg.io.catalogs import write_catalog
from sciimg.outputs import point_catalog, point_rows
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
PEAK_RADIUS = 2.0  # voxels
SCORE_FLOOR = 0.05


def heat_peaks(
    coords: np.ndarray, heat: np.ndarray, radius: float = PEAK_RADIUS, floor: float = SCORE_FLOOR
) -> np.ndarray:
    """Indices of the voxels ``coords`` ``(n, 3)`` whose ``heat`` is at least ``floor`` and a local maximum.

    A voxel is a maximum when no voxel within ``radius`` has more heat; of two equal
    neighbours the first (lower index) is kept.
    """
    candidates = np.flatnonzero(heat >= floor)
    if len(candidates) == 0:
        return candidates
    pairs = cKDTree(np.asarray(coords, float)[candidates]).query_pairs(radius + 1e-6, output_type="ndarray")
    value = heat[candidates]
    first, second = pairs[:, 0], pairs[:, 1]  # first < second
    beaten = np.zeros(len(candidates), bool)
    beaten[first[value[first] < value[second]]] = True
    beaten[second[value[second] <= value[first]]] = True
    return candidates[~beaten]


class KeypointModel(VolumeModel):
    """A trained keypoint heatmap: :meth:`find` gives an event's points and scores."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> None:
        super().__init__(path, device, runtime)
        self.classes = ["keypoint"]  # one output channel: the heat

    def window_module(self) -> nn.Module:
        return VoxelProbabilities(self.network, exclusive=False)

    def find(self, coords: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voxel indices ``(k, 3)`` and scores of the keypoints among occupied voxels ``coords``."""
        heat = self.classify(coords, values)[:, 0]
        peaks = heat_peaks(coords, heat)
        return np.asarray(coords)[peaks], heat[peaks]


def predict_keypoints(model: KeypointModel, inputs: list[Path], output: str | os.PathLike) -> Path:
    """Keypoints of every event of ``inputs`` (volume stores or native files), one ECSV catalog."""
    rows, seconds = [], []
    for path in inputs:
        for event in input_events(path, model.grid):
            started = time.perf_counter()
            coords, scores = model.find(event.coords, event.values)
            seconds.append(time.perf_counter() - started)
            rows.append(point_rows(event.event_id, coords, scores, model.grid))
    log.info("%d events, median %.3f s per event", len(seconds), float(np.median(seconds)) if seconds else 0.0)
    table = point_catalog(rows, model.grid, seconds)
    table.meta["model"] = str(model.path)
    prov = provenance(inputs=[*inputs, model.path / WEIGHTS])
    return write_catalog(table, output, prov, f"keypoints of {model.path}")
