"""Cherenkov event files: ctapipe DL1 (ours and ctapipe's own), sim_telarray, and clear errors."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
import tables

from sciimg.errors import InputError
from sciimg.io.dl1 import read_events


def test_simulated_file_is_a_ctapipe_dl1_file(tiny_dl1):
    from ctapipe.io import TableLoader

    with TableLoader(tiny_dl1, dl1_images=True, simulated=True, pointing=False) as loader:
        (camera,) = [t.camera for t in loader.subarray.telescope_types]
        table = loader.read_telescope_events()
    assert camera.geometry.n_pixels == 1855
    assert {"image", "peak_time", "true_energy", "true_alt", "true_az", "impact_distance"} <= set(table.colnames)
    assert table["true_energy"].unit == "TeV"
    events = read_events(tiny_dl1)
    assert events.has_truth and np.asarray(events.table["image"]).shape == (240, 1855)
    np.testing.assert_array_equal(events.table["event_id"], table["event_id"])


def test_dl1_written_by_ctapipe_process_reads(lst_muons, tmp_path):
    """ctapipe's own tool converts the real LST simtel file; we read its DL1 output."""
    output = tmp_path / "muons.dl1.h5"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ctapipe.tools.process",
            f"--input={lst_muons}",
            f"--output={output}",
            "--write-images",
            "--SimTelEventSource.focal_length_choice=EQUIVALENT",
            "--log-level=ERROR",
        ],
        check=True,
        cwd=tmp_path,  # ctapipe writes its provenance log in the working directory
    )
    events = read_events(output)
    assert events.geometry.name == "LSTCam" and len(events.table) == 30
    simtel = read_events(lst_muons)
    order = np.argsort(simtel.table["event_id"])
    np.testing.assert_allclose(events.table["image"], np.asarray(simtel.table["image"])[order], rtol=1e-5, atol=1e-4)


def test_simtel_file_is_calibrated_into_images(lst_muons):
    events = read_events(lst_muons)
    image = np.asarray(events.table["image"])
    assert events.geometry.n_pixels == 1855 and image.shape == (30, 1855)
    assert np.all(np.isfinite(image)) and np.median(image.sum(axis=1)) > 500  # muon rings are bright


def test_file_without_simulation_reads_without_truth(tiny_dl1, tmp_path):
    observed = tmp_path / "observed.dl1.h5"
    observed.write_bytes(tiny_dl1.read_bytes())
    with h5py.File(observed, "r+") as h5:
        del h5["simulation"]
    events = read_events(observed)
    assert not events.has_truth and len(events.table) == 240


def test_missing_corrupt_nan_and_wrong_type_inputs_are_named(tmp_path, tiny_dl1):
    with pytest.raises(InputError, match=r"nope\.h5: input file does not exist"):
        read_events(tmp_path / "nope.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(tiny_dl1.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"corrupt\.h5: not a readable HDF5 file"):
        read_events(corrupt)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.txt: input must be a ctapipe DL1 HDF5 file or a sim_telarray"):
        read_events(text)
    nan_file = tmp_path / "nan.h5"
    nan_file.write_bytes(tiny_dl1.read_bytes())
    with tables.open_file(nan_file, "r+") as h5:  # ctapipe compresses with blosc, which PyTables reads
        table = h5.root.dl1.event.telescope.images.tel_001
        image = table.col("image")[3:4]
        image[0, 10] = np.nan
        table.modify_column(start=3, stop=4, column=image, colname="image")
    with pytest.raises(
        InputError, match=r"nan.h5: image values must be finite, got NaN/inf in 1 events \(first event_id 4\)"
    ):
        read_events(nan_file)
    with pytest.raises(InputError, match=r"telescope_type must be one of \['LST_LST_SimHexCam'\], got 'MST'"):
        read_events(tiny_dl1, telescope_type="MST")
