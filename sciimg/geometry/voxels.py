"""Points to voxels: a regular grid in millimetres, binning with charge sums and majority-by-charge labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoxelGrid:
    """A box of ``shape`` voxels (z, y, x) of side ``pitch_mm``, its corner at ``origin_mm``."""

    shape: tuple[int, int, int]
    pitch_mm: float
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def of(cls, shape: int | Sequence[int], pitch_mm: float, origin_mm: Sequence[float] = (0.0, 0.0, 0.0)) -> VoxelGrid:
        sides = (int(shape),) * 3 if np.isscalar(shape) else tuple(int(s) for s in shape)
        if len(sides) != 3 or min(sides) < 1:
            raise ValueError(f"grid shape must be one or three positive sides, got {shape!r}")
        if not pitch_mm > 0:
            raise ValueError(f"pitch_mm must be positive, got {pitch_mm!r}")
        return cls(sides, float(pitch_mm), tuple(float(o) for o in origin_mm))  # type: ignore[arg-type]

    def index(self, millimetres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voxel indices ``(n, 3)`` of points ``(n, 3)`` in mm, and which points lie inside the grid."""
        index = np.floor((np.asarray(millimetres, float) - self.origin_mm) / self.pitch_mm).astype(np.int64)
        inside = np.all((index >= 0) & (index < self.shape), axis=1)
        return index, inside

    def to_voxels(self, millimetres: np.ndarray) -> np.ndarray:
        """Continuous voxel coordinates (a voxel ``i`` spans ``[i, i + 1)``) of points in mm."""
        return (np.asarray(millimetres, float) - self.origin_mm) / self.pitch_mm


def largest_per_voxel(flat: np.ndarray, key: np.ndarray, charge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each voxel in ``flat``, the ``key`` whose charges in it sum highest: (sorted voxels, keys)."""
    if len(flat) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs, inverse = np.unique(np.stack([flat, np.asarray(key, np.int64)]), axis=1, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=charge)
    order = np.lexsort((-sums, pairs[0]))
    first = np.r_[True, np.diff(pairs[0][order]) != 0]
    return pairs[0][order][first], pairs[1][order][first]


def bin_points(
    index: np.ndarray, values: np.ndarray, shape: Sequence[int], labels: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Sum the values of points in the same voxel; each label array takes the label of the largest share.

    Args:
        index: ``(n, 3)`` voxel indices, all inside ``shape``.
        values: ``(n,)`` charges.
        labels: per-point integer labels by name (semantic class, instance, ...).

    Returns:
        ``(m, 3)`` occupied voxels in raster order, their summed values, and their labels.
    """
    flat = np.ravel_multi_index(np.asarray(index).T, tuple(shape)) if len(index) else np.zeros(0, np.int64)
    voxels, inverse = np.unique(flat, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values, minlength=len(voxels)).astype(np.float32)
    binned = {}
    for name, label in (labels or {}).items():
        binned[name] = largest_per_voxel(flat, label, values)[1].astype(np.asarray(label).dtype)
    coords = np.stack(np.unravel_index(voxels, tuple(shape)), axis=1) if len(voxels) else np.zeros((0, 3), np.int64)
    return coords, sums, binned
