"""Camera geometries read from files (never downloaded), with clear errors for wrong files."""

import numpy as np
import pytest

from sciimg.errors import InputError
from sciimg.geometry.camera import geometry_from_arrays, geometry_to_arrays, hexagonal_camera, load_camera_geometry


def test_lst_geometry_file_is_read_with_ctapipe(lst_geometry):
    assert lst_geometry.name == "LSTCam" and lst_geometry.n_pixels == 1855
    assert lst_geometry.pix_rotation.to_value("deg") == pytest.approx(100.893, abs=1e-3)


def test_geometry_written_by_ctapipe_reads_back(tmp_path):
    geometry = hexagonal_camera(n_pixels=127)
    path = tmp_path / "cam.camgeom.fits"
    geometry.to_table().write(path)
    again = load_camera_geometry(path)
    np.testing.assert_allclose(again.pix_x.value, geometry.pix_x.value)
    assert again.n_pixels == 127


def test_not_a_geometry_is_one_clear_error(tmp_path):
    bad = tmp_path / "table.ecsv"
    bad.write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: int64}\na\n1\n")
    with pytest.raises(InputError, match=r"table.ecsv: not a camera geometry table, columns \['pix_id'"):
        load_camera_geometry(bad)
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"not fits at all")
    with pytest.raises(InputError, match=r"garbage\.fits: not a readable camera geometry table"):
        load_camera_geometry(garbage)
    with pytest.raises(InputError, match=r"missing\.fits: camera geometry file does not exist"):
        load_camera_geometry(tmp_path / "missing.fits")


def test_geometry_arrays_round_trip():
    geometry = hexagonal_camera(n_pixels=61, rotation_deg=40.0)
    again = geometry_from_arrays(geometry_to_arrays(geometry))
    assert again.name == geometry.name and again.pix_type == geometry.pix_type
    np.testing.assert_array_equal(again.pix_y.value, geometry.pix_y.value)
    np.testing.assert_array_equal(again.neighbor_matrix, geometry.neighbor_matrix)
