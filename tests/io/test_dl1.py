"""DL1 files: layout, units, and clear errors for bad input."""

import h5py
import numpy as np
import pytest

from sciimg.errors import InputError
from sciimg.io.dl1 import IMAGES_GROUP, SHOWER_TABLE, read_dl1


def test_layout_follows_ctapipe(tiny_dl1):
    with h5py.File(tiny_dl1) as h5:
        images = h5[f"{IMAGES_GROUP}/tel_001"]
        assert {"obs_id", "event_id", "tel_id", "image", "peak_time"} <= set(images.dtype.names)
        shower = h5[SHOWER_TABLE]
        assert shower.attrs["true_energy_UNIT"] == "TeV"
        assert "geometry_SimHexCam" in h5["/configuration/instrument/telescope/camera"]
    events = read_dl1(tiny_dl1)
    assert events.image.shape == (240, 331)
    assert events.units["true_energy"] == "TeV"
    assert np.all(np.diff(events.event_id) > 0)


def test_missing_corrupt_and_nan_inputs_are_named(tmp_path, tiny_dl1):
    with pytest.raises(InputError, match=r"nope\.h5: DL1 file does not exist"):
        read_dl1(tmp_path / "nope.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(tiny_dl1.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"corrupt\.h5: not a readable HDF5 file"):
        read_dl1(corrupt)
    nan_file = tmp_path / "nan.h5"
    nan_file.write_bytes(tiny_dl1.read_bytes())
    with h5py.File(nan_file, "r+") as h5:
        table = h5[f"{IMAGES_GROUP}/tel_001"]
        row = table[3]
        row["image"][10] = np.nan
        table[3] = row
    with pytest.raises(
        InputError,
        match=r"nan.h5: images must be finite, got NaN/inf in 1 events \(first event_id 4\)",
    ):
        read_dl1(nan_file)
    with pytest.raises(InputError, match="must contain '/dl1/event/telescope/images/tel_002'"):
        read_dl1(tiny_dl1, tel_id=2)
