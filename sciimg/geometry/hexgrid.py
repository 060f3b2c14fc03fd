"""Exact hexagonal-pixel <-> square-grid mapping by axial addressing.

A hexagonal lattice with pitch ``p`` has pixel centres ``x = p (q + r/2)``,
``y = p (sqrt(3)/2) r`` for integers ``(q, r)`` once the lattice is rotated so that one
neighbour direction lies along x. Putting pixel ``(q, r)`` in grid cell ``(row=r, col=q)``
shears the camera into a parallelogram: every pixel lands in exactly one cell, neighbours
stay neighbours (6 of the 8 grid neighbours), and the inverse is an index lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

_SQRT3_2 = np.sqrt(3.0) / 2.0


def lattice_rotation(pix_x: np.ndarray, pix_y: np.ndarray) -> tuple[float, float]:
    """Return (pitch, rotation in radians modulo 60 deg) of a hexagonal pixel lattice."""
    points = np.column_stack([pix_x, pix_y])
    distance, index = cKDTree(points).query(points, k=2)
    pitch = float(np.median(distance[:, 1]))
    delta = points[index[:, 1]] - points
    angle = np.arctan2(delta[:, 1], delta[:, 0])
    mean6 = np.angle(np.mean(np.exp(6j * angle)))  # circular mean of the 60-degree symmetry
    return pitch, float(mean6 / 6.0)


@dataclass(frozen=True)
class AxialMapping:
    """Index table from camera pixels to cells of a ``shape`` grid (exact, no interpolation).

    Attributes:
        rows: grid row of each pixel.
        cols: grid column of each pixel.
        shape: (n_rows, n_cols) of the grid.
    """

    rows: np.ndarray
    cols: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def from_positions(cls, pix_x: np.ndarray, pix_y: np.ndarray, tolerance: float = 0.1) -> AxialMapping:
        """Build the mapping from pixel centre positions (any unit, any lattice rotation).

        Raises:
            ValueError: if the positions are not on one hexagonal lattice (residual above
                ``tolerance`` pitches) or two pixels share a lattice site.
        """
        pix_x = np.asarray(pix_x, dtype=float)
        pix_y = np.asarray(pix_y, dtype=float)
        pitch, rotation = lattice_rotation(pix_x, pix_y)
        cos, sin = np.cos(-rotation), np.sin(-rotation)
        x = (cos * pix_x - sin * pix_y) / pitch
        y = (sin * pix_x + cos * pix_y) / pitch
        r_float = y / _SQRT3_2
        q_float = x - r_float / 2.0
        r_float, q_float = r_float - r_float[0], q_float - q_float[0]  # pixel 0 on a site
        r, q = np.rint(r_float).astype(int), np.rint(q_float).astype(int)
        residual = np.hypot(q_float - q + (r_float - r) / 2.0, (r_float - r) * _SQRT3_2)
        if residual.max() > tolerance:
            raise ValueError(
                f"pixel positions must lie on a hexagonal lattice, got a residual of "
                f"{residual.max():.3f} pitch at pixel {int(residual.argmax())}"
            )
        rows, cols = r - r.min(), q - q.min()
        shape = (int(rows.max()) + 1, int(cols.max()) + 1)
        if len(np.unique(rows * shape[1] + cols)) != len(rows):
            raise ValueError("pixel positions must be distinct lattice sites, got duplicates")
        return cls(rows.astype(np.int32), cols.astype(np.int32), shape)

    @property
    def n_pixels(self) -> int:
        """Number of camera pixels."""
        return len(self.rows)

    @property
    def flat_index(self) -> np.ndarray:
        """Flattened grid index of each pixel."""
        return self.rows.astype(np.int64) * self.shape[1] + self.cols

    def valid_mask(self) -> np.ndarray:
        """Boolean grid, True in cells that hold a pixel."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.rows, self.cols] = True
        return mask

    def to_grid(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Map ``(..., n_pixels)`` camera values to ``(..., n_rows, n_cols)`` grids."""
        values = np.asarray(values)
        if values.shape[-1] != self.n_pixels:
            raise ValueError(
                f"camera images must have {self.n_pixels} pixels on the last axis, got shape {values.shape}"
            )
        grid = np.full((*values.shape[:-1], self.shape[0] * self.shape[1]), fill, values.dtype)
        grid[..., self.flat_index] = values
        return grid.reshape(*values.shape[:-1], *self.shape)

    def to_pixels(self, grid: np.ndarray) -> np.ndarray:
        """Map ``(..., n_rows, n_cols)`` grids back to ``(..., n_pixels)`` camera values."""
        grid = np.asarray(grid)
        return grid.reshape(*grid.shape[:-2], -1)[..., self.flat_index]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The table as plain arrays, for storing with a dataset or a model."""
        return {"rows": self.rows, "cols": self.cols, "shape": np.asarray(self.shape)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AxialMapping:
        """Inverse of :meth:`to_arrays`."""
        shape = tuple(int(n) for n in arrays["shape"])
        return cls(np.asarray(arrays["rows"]), np.asarray(arrays["cols"]), shape)  # type: ignore[arg-type]
