"""Ingest of Cherenkov files: image parameters, quality cuts, channels, mappers, gamma selection."""

import copy

import h5py
import numpy as np
import pytest

from sciimg.data.dataset import StoreDataset
from sciimg.data.ingest_cherenkov import ingest_cherenkov
from sciimg.errors import InputError
from sciimg.io.dl1 import GAMMA
from sciimg.io.store import SampleStore
from sciimg.simulate.cherenkov import simulate_cherenkov_file


def _spec(tiny_spec, **data):
    spec = copy.deepcopy(tiny_spec)
    spec["data"].update(data)
    return spec


def test_quality_cuts_apply_to_every_split(tiny_dl1, tiny_spec, tmp_path):
    spec = _spec(tiny_spec, quality_cuts={"min_intensity_pe": 100.0, "max_leakage_intensity_width_2": 0.2})
    stores = {k: SampleStore(v) for k, v in ingest_cherenkov([tiny_dl1], tmp_path, spec).items()}
    kept = sum(len(s) for s in stores.values())
    assert stores["train"].attrs["quality_cuts"]["events_after"] == kept < 240
    for store in stores.values():
        meta = store.meta()
        assert np.all(meta["hillas_intensity"] > 100.0) and np.all(meta["leakage_intensity_width_2"] <= 0.2)


def test_channels_and_mappers(tiny_dl1, tiny_spec, tmp_path):
    spec = _spec(tiny_spec, channels=["charge", "peak_time", "clean_mask", "radius"], mapper="oversampling")
    paths = ingest_cherenkov([tiny_dl1], tmp_path, spec)
    store = SampleStore(paths["train"])
    pixels = store.read("image")
    assert pixels.shape[1:] == (4, 1855) and store.attrs["axes"] == "C,P"
    extra = store.extra()
    np.testing.assert_allclose(
        pixels[:, 3], np.broadcast_to(np.hypot(extra["pix_x"], extra["pix_y"]), (len(pixels), 1855))
    )
    mask = pixels[:, 2]
    assert set(np.unique(mask)) <= {0.0, 1.0} and np.all(mask.sum(axis=1) >= 3)
    assert np.all(pixels[:, 1][mask == 0] == 0)  # peak time only where the cleaning kept a pixel
    np.testing.assert_allclose(store.meta()["morphology_n_pixels"], mask.sum(axis=1))
    image = StoreDataset(paths["train"])[0]["image"]
    assert tuple(image.shape) == (4, 106, 92)  # 2x2 cells per pixel


def test_protons_are_left_out_of_energy_training(tiny_spec, tmp_path):
    path = tmp_path / "mixed.dl1.h5"
    simulate_cherenkov_file(path, 150, 9, proton_fraction=0.5, spectral_index=1.0, energy_min_tev=0.1)
    stores = ingest_cherenkov([path], tmp_path / "stores", tiny_spec)
    primaries = np.concatenate([SampleStore(p).meta()["true_shower_primary_id"] for p in stores.values()])
    assert len(primaries) > 20 and np.all(primaries == GAMMA)


def test_files_without_truth_cannot_train(tiny_dl1, tiny_spec, tmp_path):
    observed = tmp_path / "observed.dl1.h5"
    observed.write_bytes(tiny_dl1.read_bytes())
    with h5py.File(observed, "r+") as h5:
        del h5["simulation"]
    with pytest.raises(InputError, match=r"observed.dl1.h5: has no simulation truth column 'true_energy'"):
        ingest_cherenkov([observed], tmp_path / "out", tiny_spec)
    assert not (tmp_path / "out").exists()
