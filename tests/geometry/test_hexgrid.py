"""Axial hexagonal mapping: exact, invertible, rotation-proof, on simulated and real cameras."""

from pathlib import Path

import numpy as np
import pytest

from sciimg.geometry import AxialMapping
from sciimg.simulate.camera import hexagonal_camera

LST_GEOMETRY = Path(__file__).parents[2] / ".." / "shared" / "data" / "cherenkov" / "LSTCam.camgeom.fits.gz"


@pytest.mark.parametrize("rotation_deg", [0.0, 10.9, 30.0, 47.0])
def test_round_trip_is_identity_on_every_pixel(rotation_deg):
    camera = hexagonal_camera(n_pixels=400, rotation_deg=rotation_deg)
    mapping = AxialMapping.from_positions(camera.pix_x, camera.pix_y)
    values = np.random.default_rng(0).normal(size=(5, mapping.n_pixels))
    grid = mapping.to_grid(values)
    np.testing.assert_array_equal(mapping.to_pixels(grid), values)
    assert mapping.valid_mask().sum() == mapping.n_pixels  # one pixel per cell, none lost
    np.testing.assert_allclose(grid.sum(axis=(-2, -1)), values.sum(axis=-1))


def test_neighbours_on_the_camera_are_neighbours_on_the_grid():
    camera = hexagonal_camera(n_pixels=200, rotation_deg=23.0)
    mapping = AxialMapping.from_positions(camera.pix_x, camera.pix_y)
    xy = np.column_stack([camera.pix_x, camera.pix_y])
    pitch = np.sort(np.linalg.norm(xy[1:] - xy[0], axis=1))[0]
    distance = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    i, j = np.nonzero((distance > 0) & (distance < 1.1 * pitch))
    drow, dcol = mapping.rows[j] - mapping.rows[i], mapping.cols[j] - mapping.cols[i]
    assert {(int(a), int(b)) for a, b in zip(drow, dcol, strict=True)} == {
        (0, 1),
        (0, -1),
        (1, 0),
        (-1, 0),
        (1, -1),
        (-1, 1),
    }


@pytest.mark.skipif(not LST_GEOMETRY.exists(), reason="shared data not present")
def test_real_lst_camera_maps_exactly():
    from astropy.table import Table

    table = Table.read(LST_GEOMETRY)
    mapping = AxialMapping.from_positions(table["pix_x"], table["pix_y"])
    assert mapping.n_pixels == 1855
    values = np.arange(1855, dtype=float)
    np.testing.assert_array_equal(mapping.to_pixels(mapping.to_grid(values)), values)


def test_non_hexagonal_positions_are_rejected():
    x, y = np.meshgrid(np.arange(10.0), np.arange(10.0))
    with pytest.raises(ValueError, match="must lie on a hexagonal lattice"):
        AxialMapping.from_positions(x.ravel(), y.ravel())


def test_wrong_pixel_count_is_rejected():
    camera = hexagonal_camera(n_pixels=100)
    mapping = AxialMapping.from_positions(camera.pix_x, camera.pix_y)
    with pytest.raises(ValueError, match=f"must have {mapping.n_pixels} pixels"):
        mapping.to_grid(np.zeros((2, 99)))


def test_arrays_round_trip():
    camera = hexagonal_camera(n_pixels=100)
    mapping = AxialMapping.from_positions(camera.pix_x, camera.pix_y)
    again = AxialMapping.from_arrays(mapping.to_arrays())
    np.testing.assert_array_equal(again.flat_index, mapping.flat_index)
    assert again.shape == mapping.shape
