"""Hexagonal -> square-grid mappers: exact axial round trip, charge conservation, rotated cameras."""

import numpy as np
import pytest

from sciimg.geometry import MAPPERS, build_mapper
from sciimg.geometry.camera import hexagonal_camera
from sciimg.geometry.mappers import axial_coordinates, symmetry_permutations


def _xy(geometry):
    return geometry.pix_x.value, geometry.pix_y.value


def _cameras(lst_geometry):
    cameras = {f"sim_rot{r}": hexagonal_camera(n_pixels=397, rotation_deg=r) for r in (0.0, 23.0, 100.893)}
    cameras["LSTCam"] = lst_geometry
    return cameras


@pytest.mark.parametrize("name", sorted(MAPPERS))
def test_every_mapper_conserves_total_charge(name, lst_geometry):
    rng = np.random.default_rng(0)
    for label, geometry in _cameras(lst_geometry).items():
        mapper = build_mapper(name, *_xy(geometry))
        images = rng.gamma(0.5, 20.0, size=(16, geometry.n_pixels))
        grid = mapper.to_grid(images)
        assert grid.shape == (16, *mapper.shape), label
        np.testing.assert_allclose(grid.sum(axis=(-2, -1)), images.sum(axis=-1), rtol=1e-5, err_msg=label)
        # and per pixel: a lone pixel's charge lands on the grid whole
        for pixel in (0, geometry.n_pixels // 2, geometry.n_pixels - 1):
            single = np.zeros(geometry.n_pixels)
            single[pixel] = 1.0
            assert mapper.to_grid(single).sum() == pytest.approx(1.0, abs=1e-9), (label, pixel)


@pytest.mark.parametrize("name", ["axial", "oversampling"])
def test_exact_mappers_round_trip_every_pixel(name, lst_geometry):
    for label, geometry in _cameras(lst_geometry).items():
        mapper = build_mapper(name, *_xy(geometry))
        values = np.random.default_rng(1).normal(size=(3, geometry.n_pixels))
        np.testing.assert_allclose(mapper.to_pixels(mapper.to_grid(values)), values, atol=1e-12, err_msg=label)


@pytest.mark.parametrize("name", sorted(MAPPERS))
def test_the_copy_into_cells_maps_as_the_sparse_product(name, lst_geometry):
    mapper = build_mapper(name, *_xy(lst_geometry))
    images = np.random.default_rng(2).gamma(0.5, 20.0, size=(5, 3, lst_geometry.n_pixels)).astype(np.float32)
    product = np.asarray((mapper.matrix @ images.reshape(-1, mapper.n_pixels).T).T, np.float32)
    np.testing.assert_array_equal(mapper.to_grid(images), product.reshape(5, 3, *mapper.shape))
    assert mapper.copies_pixels == (name == "axial")


def test_axial_puts_one_pixel_per_cell_and_keeps_neighbours():
    geometry = hexagonal_camera(n_pixels=199, rotation_deg=23.0)
    mapper = build_mapper("axial", *_xy(geometry))
    assert mapper.valid_mask().sum() == geometry.n_pixels
    rows, cols = np.divmod(mapper.cell, mapper.shape[1])
    neighbours = geometry.neighbor_matrix_sparse.tocoo()
    steps = {
        (int(rows[j] - rows[i]), int(cols[j] - cols[i])) for i, j in zip(neighbours.row, neighbours.col, strict=True)
    }
    assert steps == {(0, 1), (0, -1), (1, 0), (-1, 0), (1, -1), (-1, 1)}


def test_real_lst_camera_maps_exactly(lst_geometry):
    mapper = build_mapper("axial", *_xy(lst_geometry))
    assert mapper.n_pixels == 1855 and mapper.shape == (55, 55)
    values = np.arange(1855, dtype=float)
    np.testing.assert_array_equal(mapper.to_pixels(mapper.to_grid(values)), values)


def test_bilinear_grid_peaks_where_the_image_peaks():
    geometry = hexagonal_camera(n_pixels=601)
    mapper = build_mapper("bilinear", *_xy(geometry))
    x, y = _xy(geometry)
    grid = mapper.to_grid(np.exp(-(x**2 + y**2) / 0.3**2))
    row, col = np.unravel_index(np.argmax(grid), grid.shape)
    assert abs(row - grid.shape[0] / 2) < 3 and abs(col - grid.shape[1] / 2) < 3


def test_non_hexagonal_positions_are_rejected():
    x, y = np.meshgrid(np.arange(10.0), np.arange(10.0))
    with pytest.raises(ValueError, match="must lie on a hexagonal lattice"):
        axial_coordinates(x.ravel(), y.ravel())


def test_unknown_mapper_and_wrong_pixel_count_are_rejected():
    geometry = hexagonal_camera(n_pixels=97)
    with pytest.raises(ValueError, match=r"mapper must be one of \['axial', 'bilinear', 'oversampling'\]"):
        build_mapper("nearest", *_xy(geometry))
    mapper = build_mapper("oversampling", *_xy(geometry))
    with pytest.raises(ValueError, match="must have 97 pixels"):
        mapper.to_grid(np.zeros((2, 96)))


@pytest.mark.parametrize("name", sorted(MAPPERS))
def test_arrays_round_trip(name):
    geometry = hexagonal_camera(n_pixels=97)
    mapper = build_mapper(name, *_xy(geometry))
    again = type(mapper).from_arrays({k: np.asarray(v) for k, v in mapper.to_arrays().items()})
    values = np.random.default_rng(2).normal(size=(2, 97))
    np.testing.assert_array_equal(again.to_grid(values), mapper.to_grid(values))


def test_symmetries_of_real_and_simulated_cameras(lst_geometry):
    cameras = {"sim": hexagonal_camera(n_pixels=331, rotation_deg=23.0)}
    cameras["LSTCam"] = lst_geometry
    for label, geometry in cameras.items():
        permutations = symmetry_permutations(*_xy(geometry))
        assert len(permutations) >= 6, label  # every rotation by 60 degrees is exact
        np.testing.assert_array_equal(permutations[0], np.arange(geometry.n_pixels))
        x, y = _xy(geometry)
        for permutation in permutations:
            assert sorted(permutation) == list(range(geometry.n_pixels))  # a permutation: no pixel lost
            # distances from the centre are kept, so the image is rotated/reflected, not distorted
            np.testing.assert_allclose(np.hypot(x, y)[permutation], np.hypot(x, y), atol=1e-4)  # LST: float32 metres
        # the second one turns every pixel by the same 60 degrees about the centre
        off_centre = np.hypot(x, y) > 1e-9
        z = (x + 1j * y)[off_centre]
        turned = (x[permutations[1]] + 1j * y[permutations[1]])[off_centre]
        angle = np.degrees(np.angle(turned / z))
        np.testing.assert_allclose(angle, angle[0], atol=0.01)
        assert abs(abs(angle[0]) - 60.0) < 0.01, label


def test_camera_without_symmetry_has_only_the_identity():
    geometry = hexagonal_camera(n_pixels=331)
    x, y = _xy(geometry)
    keep = np.arange(geometry.n_pixels) != geometry.n_pixels - 1  # drop one edge pixel
    assert len(symmetry_permutations(x[keep], y[keep])) == 1
