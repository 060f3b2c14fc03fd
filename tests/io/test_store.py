"""Sample store: round trip, atomic writes, fork-safe lazy reads."""

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciimg.data.dataset import StoreDataset
from sciimg.errors import InputError
from sciimg.io.store import SampleStore, write_store


def test_round_trip_with_attrs_meta_and_one_sample_per_chunk(tmp_path):
    images = np.random.default_rng(0).normal(size=(6, 1, 5, 7)).astype(np.float32)
    target = np.arange(6, dtype=np.float32)
    path = tmp_path / "s.h5"
    write_store(
        path,
        {"image": images, "target": target},
        meta={"event_id": np.arange(6)},
        attrs={"modality": "x", "units": {"image": "pe"}},
    )
    store = SampleStore(path)
    assert len(store) == 6 and store.attrs["units"] == {"image": "pe"}
    np.testing.assert_array_equal(store[4]["image"], images[4])
    assert store[4]["target"] == 4
    np.testing.assert_array_equal(store.meta()["event_id"], np.arange(6))
    with h5py.File(path) as h5:
        assert h5["image"].chunks == (1, 1, 5, 7)


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "s.h5"
    with pytest.raises(ValueError, match="target must have 3 samples"):
        write_store(path, {"image": np.zeros((3, 1, 2, 2)), "target": np.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_stores_are_named(tmp_path):
    with pytest.raises(InputError, match=r"missing\.h5: sample store does not exist"):
        SampleStore(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match=r"bad\.h5: not a readable HDF5"):
        SampleStore(bad)


def test_workers_give_the_same_batches_as_the_main_process(tiny_stores):
    dataset = StoreDataset(tiny_stores["train"])
    batches = {}
    for workers in (0, 2):
        torch.manual_seed(0)
        loader = DataLoader(dataset, batch_size=16, shuffle=True, num_workers=workers)
        batches[workers] = list(loader)
    assert len(batches[0]) == len(batches[2]) > 1
    for a, b in zip(batches[0], batches[2], strict=True):
        torch.testing.assert_close(a["image"], b["image"])
        torch.testing.assert_close(a["target"], b["target"])


def test_normalisation_is_fitted_on_train_and_shared(tiny_stores):
    stores = {name: SampleStore(path) for name, path in tiny_stores.items()}
    norms = [s.attrs["normalisation"] for s in stores.values()]
    assert norms[0] == norms[1] == norms[2]
    train = StoreDataset(tiny_stores["train"])
    values = torch.stack([train[i]["image"] for i in range(len(train))])
    valid = torch.from_numpy(train.valid)
    inside = values[..., valid]
    assert abs(inside.mean().item()) < 1e-3 and abs(inside.std().item() - 1) < 1e-2
    assert values[..., ~valid].abs().max() == 0
    ids = [set(s.meta()["event_id"].tolist()) for s in stores.values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
