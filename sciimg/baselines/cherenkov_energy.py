"""Classical energy estimate: log energy regressed on the log of the cleaned image intensity."""

from __future__ import annotations

import numpy as np

# axial-grid offsets (d_row, d_col) of the six hexagonal neighbours
HEX_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, -1), (-1, 1))


def _shift(grid: np.ndarray, d_row: int, d_col: int) -> np.ndarray:
    """``out[..., r, c] = grid[..., r + d_row, c + d_col]`` with zeros outside."""
    out = np.zeros_like(grid)
    rows, cols = grid.shape[-2:]
    src_r = slice(max(d_row, 0), rows + min(d_row, 0))
    dst_r = slice(max(-d_row, 0), rows + min(-d_row, 0))
    src_c = slice(max(d_col, 0), cols + min(d_col, 0))
    dst_c = slice(max(-d_col, 0), cols + min(-d_col, 0))
    out[..., dst_r, dst_c] = grid[..., src_r, src_c]
    return out


def tailcuts_clean(grids: np.ndarray, picture: float = 6.0, boundary: float = 3.0) -> np.ndarray:
    """Two-level tail-cuts cleaning on axial grids (as ctapipe's ``tailcuts_clean``).

    Keeps picture pixels (> ``picture``) that have at least one picture neighbour, and
    boundary pixels (> ``boundary``) next to a kept picture pixel.
    """
    above_picture = grids > picture
    picture_neighbours = sum(_shift(above_picture, dr, dc) for dr, dc in HEX_NEIGHBOURS)
    core = above_picture & (picture_neighbours > 0)
    near_core = sum(_shift(core, dr, dc) for dr, dc in HEX_NEIGHBOURS) > 0
    return core | ((grids > boundary) & near_core)


def cleaned_intensity(grids: np.ndarray) -> np.ndarray:
    """Total charge in the cleaned image of each ``(..., rows, cols)`` grid."""
    mask = tailcuts_clean(grids)
    return np.where(mask, grids, 0.0).sum(axis=(-2, -1))


class IntensityRegression:
    """``log10(E) = polynomial(log10(intensity))``, fitted by least squares on the train split.

    Events whose cleaned image is empty get intensity 1 p.e. (the lowest energies).
    """

    def __init__(self, degree: int = 2) -> None:
        self.degree = degree
        self.coefficients: np.ndarray | None = None

    @staticmethod
    def features(grids: np.ndarray) -> np.ndarray:
        """log10 of the cleaned intensity, floored at 1 p.e."""
        return np.log10(np.clip(cleaned_intensity(grids), 1.0, None))

    def fit(self, grids: np.ndarray, target: np.ndarray) -> IntensityRegression:
        """Fit on training grids ``(N, rows, cols)`` and energies ``(N,)``."""
        self.coefficients = np.polyfit(self.features(grids), np.log10(target), self.degree)
        return self

    def predict(self, grids: np.ndarray) -> np.ndarray:
        """Energies for grids ``(N, rows, cols)``."""
        if self.coefficients is None:
            raise RuntimeError("IntensityRegression must be fitted before predict")
        return 10.0 ** np.polyval(self.coefficients, self.features(grids))
