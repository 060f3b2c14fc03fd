"""Hexagonal camera pixels -> square grids, chosen by name: ``axial``, ``oversampling``, ``bilinear``.

Each mapper is a sparse ``(grid cells x pixels)`` weight table built once from the pixel
positions; mapping a batch of images is one sparse product. Every pixel's weights sum to
one, so the total charge of an image is conserved by all mappers.

- ``axial``: pixel ``(q, r)`` of the lattice goes to cell ``(r, q)``, one cell per pixel;
  exact, no interpolation (the camera becomes a sheared parallelogram).
- ``oversampling``: every pixel becomes a 2x2 block of cells with a quarter of its charge;
  odd lattice rows shift by one cell, so the grid keeps the camera's true shape.
- ``bilinear``: a square grid of ``pitch / 2`` cells, each cell interpolated linearly
  (barycentric weights in the Delaunay triangle of pixel centres that holds it).

The lattice rotation is measured from the positions and undone first, so rotated cameras
(LST's pixel grid sits at 100.9 deg) map with lattice rows along the grid rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay, cKDTree

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


def lattice_coordinates(pix_x: np.ndarray, pix_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres rotated so a lattice direction lies along x, in units of the pitch."""
    pix_x = np.asarray(pix_x, dtype=float)
    pix_y = np.asarray(pix_y, dtype=float)
    pitch, rotation = lattice_rotation(pix_x, pix_y)
    cos, sin = np.cos(-rotation), np.sin(-rotation)
    return (cos * pix_x - sin * pix_y) / pitch, (sin * pix_x + cos * pix_y) / pitch


def axial_coordinates(pix_x: np.ndarray, pix_y: np.ndarray, tolerance: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Integer axial lattice coordinates ``(q, r)`` of each pixel, both starting at 0.

    Raises:
        ValueError: if the positions are not on one hexagonal lattice (residual above
            ``tolerance`` pitches) or two pixels share a lattice site.
    """
    x, y = lattice_coordinates(pix_x, pix_y)
    r_float = y / _SQRT3_2
    q_float = x - r_float / 2.0
    r_float, q_float = r_float - r_float[0], q_float - q_float[0]  # pixel 0 on a site
    r, q = np.rint(r_float).astype(np.int64), np.rint(q_float).astype(np.int64)
    residual = np.hypot(q_float - q + (r_float - r) / 2.0, (r_float - r) * _SQRT3_2)
    if residual.max() > tolerance:
        raise ValueError(
            f"pixel positions must lie on a hexagonal lattice, got a residual of "
            f"{residual.max():.3f} pitch at pixel {int(residual.argmax())}"
        )
    q, r = q - q.min(), r - r.min()
    if len(np.unique(r * (q.max() + 1) + q)) != len(r):
        raise ValueError("pixel positions must be distinct lattice sites, got duplicates")
    return q, r


def symmetry_permutations(pix_x: np.ndarray, pix_y: np.ndarray) -> np.ndarray:
    """Pixel permutations of the hexagon's symmetries that map this camera exactly onto itself.

    The 12 symmetries of the hexagonal lattice (rotations by multiples of 60 deg about the
    central pixel, and reflections) are tried; those that send every pixel to a pixel are
    returned, identity first, as an ``(n_symmetries, n_pixels)`` array with
    ``transformed_image = image[..., permutation]``. A rotation is exact: no charge is lost
    or interpolated. The LST camera has the 6 rotations; a camera without symmetry only
    the identity.
    """
    q, r = axial_coordinates(pix_x, pix_y)
    x, y = np.asarray(pix_x, float), np.asarray(pix_y, float)
    centre = int(np.argmin(np.hypot(x - x.mean(), y - y.mean())))
    q, r = q - q[centre], r - r[centre]
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(q, r, strict=True))}
    permutations = []
    for reflect in (False, True):
        a, b = (q, -q - r) if reflect else (q, r)
        for _ in range(6):
            sources = [index.get((int(i), int(j))) for i, j in zip(a, b, strict=True)]
            if None not in sources:
                permutations.append(np.asarray(sources, dtype=np.int64))
            a, b = -b, a + b  # rotate by 60 degrees
    return np.stack(permutations)


@dataclass(frozen=True)
class GridMapper:
    """A sparse weight table from ``n_pixels`` camera pixels to a ``shape`` grid.

    Attributes:
        name: the mapper's registry name.
        shape: (rows, cols) of the grid.
        n_pixels: number of camera pixels.
        cell: flat grid index of each table entry.
        pixel: pixel index of each table entry.
        weight: weight of each table entry (each pixel's weights sum to 1).
    """

    name: str
    shape: tuple[int, int]
    n_pixels: int
    cell: np.ndarray
    pixel: np.ndarray
    weight: np.ndarray

    @cached_property
    def matrix(self) -> sparse.csr_matrix:
        """The ``(n_cells, n_pixels)`` weight matrix."""
        n_cells = self.shape[0] * self.shape[1]
        return sparse.csr_matrix((self.weight, (self.cell, self.pixel)), shape=(n_cells, self.n_pixels))

    def _check_pixels(self, values: np.ndarray) -> None:
        if values.shape[-1] != self.n_pixels:
            raise ValueError(
                f"camera images must have {self.n_pixels} pixels on the last axis, got shape {values.shape}"
            )

    @cached_property
    def one_pixel_per_cell(self) -> bool:
        """Whether no cell mixes two pixels (``axial``, ``oversampling``)."""
        return len(np.unique(self.cell)) == len(self.cell)

    @cached_property
    def copies_pixels(self) -> bool:
        """Whether each cell receives one pixel's value unchanged (``axial``): mapping then commutes with any
        per-value transform, such as a normalisation."""
        return self.one_pixel_per_cell and bool(np.all(self.weight == 1))

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Map ``(..., n_pixels)`` camera values to ``(..., rows, cols)`` grids: one sparse product, or for a
        mapper whose cells each take one pixel, a copy into the cells (4x faster)."""
        values = np.asarray(values)
        self._check_pixels(values)
        flat = values.reshape(-1, self.n_pixels)
        if self.one_pixel_per_cell:
            grid = np.zeros((len(flat), self.shape[0] * self.shape[1]), dtype=values.dtype)
            grid[:, self.cell] = flat[:, self.pixel] * self.weight  # in float64 as the sparse product, then cast
        else:
            grid = np.asarray((self.matrix @ flat.T).T, dtype=values.dtype)
        return grid.reshape(*values.shape[:-1], *self.shape)

    def to_pixels(self, grid: np.ndarray) -> np.ndarray:
        """Map ``(..., rows, cols)`` grids back to pixels (exact for ``axial`` and ``oversampling``).

        Each pixel gets the weighted least-squares value of the cells it feeds, which
        inverts :meth:`to_grid` whenever no cell mixes two pixels.
        """
        grid = np.asarray(grid)
        flat = grid.reshape(-1, self.shape[0] * self.shape[1])
        norm = np.asarray(self.matrix.multiply(self.matrix).sum(axis=0)).ravel()
        pixels = np.asarray((self.matrix.T @ flat.T).T) / norm
        return pixels.astype(grid.dtype).reshape(*grid.shape[:-2], self.n_pixels)

    def valid_mask(self) -> np.ndarray:
        """Boolean grid, True in cells that receive charge from some pixel."""
        mask = np.zeros(self.shape[0] * self.shape[1], dtype=bool)
        mask[self.cell[self.weight > 0]] = True
        return mask.reshape(self.shape)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The table as plain arrays, for storing with a dataset or a model."""
        return {
            "mapper_name": np.asarray(self.name),
            "mapper_shape": np.asarray(self.shape),
            "mapper_n_pixels": np.asarray(self.n_pixels),
            "mapper_cell": self.cell,
            "mapper_pixel": self.pixel,
            "mapper_weight": self.weight,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GridMapper:
        """Inverse of :meth:`to_arrays`."""
        rows, cols = (int(n) for n in arrays["mapper_shape"])
        return cls(
            name=str(arrays["mapper_name"]),
            shape=(rows, cols),
            n_pixels=int(arrays["mapper_n_pixels"]),
            cell=np.asarray(arrays["mapper_cell"]),
            pixel=np.asarray(arrays["mapper_pixel"]),
            weight=np.asarray(arrays["mapper_weight"]),
        )


def axial_mapper(pix_x: np.ndarray, pix_y: np.ndarray) -> GridMapper:
    """One cell per pixel at (row r, column q) of its axial lattice coordinates."""
    q, r = axial_coordinates(pix_x, pix_y)
    shape = (int(r.max()) + 1, int(q.max()) + 1)
    n = len(q)
    return GridMapper("axial", shape, n, r * shape[1] + q, np.arange(n), np.ones(n))


def oversampling_mapper(pix_x: np.ndarray, pix_y: np.ndarray) -> GridMapper:
    """Each pixel -> a 2x2 block of cells holding a quarter of its charge each."""
    q, r = axial_coordinates(pix_x, pix_y)
    row, col = 2 * r, 2 * q + r
    col = col - col.min()
    shape = (int(row.max()) + 2, int(col.max()) + 2)
    corners = [(0, 0), (0, 1), (1, 0), (1, 1)]
    cell = np.concatenate([(row + dr) * shape[1] + col + dc for dr, dc in corners])
    n = len(q)
    return GridMapper("oversampling", shape, n, cell, np.tile(np.arange(n), 4), np.full(4 * n, 0.25))


def bilinear_mapper(pix_x: np.ndarray, pix_y: np.ndarray, cells_per_pitch: int = 2) -> GridMapper:
    """Barycentric interpolation onto square cells of ``pitch / cells_per_pitch``.

    Every pixel's weights are then scaled to sum to one (charge conservation); a pixel that
    no cell centre falls near (possible only at a sharp camera corner) goes whole into its
    nearest cell.
    """
    x, y = lattice_coordinates(pix_x, pix_y)
    step = 1.0 / cells_per_pitch
    col_centres = np.arange(x.min(), x.max() + step / 2, step)
    row_centres = np.arange(y.min(), y.max() + step / 2, step)
    shape = (len(row_centres), len(col_centres))
    grid_y, grid_x = np.meshgrid(row_centres, col_centres, indexing="ij")
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    triangulation = Delaunay(np.column_stack([x, y]))
    simplex = triangulation.find_simplex(points)
    inside = np.flatnonzero(simplex >= 0)
    transform = triangulation.transform[simplex[inside]]
    partial = np.einsum("nij,nj->ni", transform[:, :2], points[inside] - transform[:, 2])
    barycentric = np.column_stack([partial, 1.0 - partial.sum(axis=1)])
    cell = np.repeat(inside, 3)
    pixel = triangulation.simplices[simplex[inside]].ravel()
    weight = np.clip(barycentric.ravel(), 0.0, None)
    n = len(x)
    totals = np.bincount(pixel, weights=weight, minlength=n)
    orphans = np.flatnonzero(totals <= 0)
    if len(orphans):
        nearest = cKDTree(points).query(np.column_stack([x[orphans], y[orphans]]))[1]
        cell, pixel = np.concatenate([cell, nearest]), np.concatenate([pixel, orphans])
        weight = np.concatenate([weight, np.ones(len(orphans))])
        totals[orphans] = 1.0
    return GridMapper("bilinear", shape, n, cell, pixel, weight / totals[pixel])


MAPPERS: dict[str, Callable[[np.ndarray, np.ndarray], GridMapper]] = {
    "axial": axial_mapper,
    "oversampling": oversampling_mapper,
    "bilinear": bilinear_mapper,
}


def build_mapper(name: str, pix_x: np.ndarray, pix_y: np.ndarray) -> GridMapper:
    """Build the mapper registered as ``name`` for a camera with these pixel centres."""
    if name not in MAPPERS:
        raise ValueError(f"mapper must be one of {sorted(MAPPERS)}, got {name!r}")
    return MAPPERS[name](pix_x, pix_y)
