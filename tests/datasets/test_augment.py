"""Training augmentation: exact camera symmetries and NSB resampling, train split only."""

import numpy as np
import pytest
import torch

from sciimg.data.augment import CameraAugmentation
from sciimg.data.dataset import StoreDataset
from sciimg.errors import ConfigError
from sciimg.geometry.camera import hexagonal_camera
from sciimg.geometry.mappers import build_mapper, symmetry_permutations


def test_symmetries_keep_charge_and_the_axial_grid_rotates_exactly():
    geometry = hexagonal_camera(n_pixels=331)
    x, y = geometry.pix_x.value, geometry.pix_y.value
    augment = CameraAugmentation(symmetry_permutations(x, y))
    image = np.random.default_rng(0).gamma(0.5, 10.0, size=(2, 331)).astype(np.float32)
    mapper = build_mapper("axial", x, y)
    seen = set()
    for seed in range(40):
        out = augment(image, np.random.default_rng(seed))
        np.testing.assert_allclose(np.sort(out, axis=1), np.sort(image, axis=1))  # same values, moved
        np.testing.assert_allclose(mapper.to_grid(out).sum(axis=(-2, -1)), image.sum(axis=1), rtol=1e-5)
        seen.add(out.tobytes())
    assert len(seen) == 6  # every rotation is drawn


def test_nsb_resampling_adds_zero_mean_noise_to_charge_only():
    augment = CameraAugmentation(np.arange(1000)[None], extra_nsb_pe=4.0, charge_channel=0)
    image = np.zeros((2, 1000), np.float32)
    out = np.stack([augment(image, np.random.default_rng(s)) for s in range(50)])
    assert abs(out[:, 0].mean()) < 0.05 and out[:, 0].std() > 0.5
    assert np.all(out[:, 1] == 0)


def test_train_split_is_augmented_and_validation_is_not(tiny_stores):
    plain = StoreDataset(tiny_stores["train"])
    augmented = StoreDataset(tiny_stores["train"], train=True, augment={"hex_symmetries": True})
    images = [augmented[(epoch, 0)]["image"] for epoch in range(12)]
    assert any(not torch.equal(images[0], other) for other in images[1:])
    torch.testing.assert_close(augmented[(3, 0)]["image"], images[3], rtol=0, atol=0)  # a key is one draw
    valid = torch.from_numpy(plain.valid)
    reference = torch.sort(plain[0]["image"][0][valid]).values
    for image in images:  # on the axial grid a symmetry only moves values between pixels' cells
        torch.testing.assert_close(torch.sort(image[0][valid]).values, reference)
    assert StoreDataset(tiny_stores["val"], augment={"hex_symmetries": True}).augmentation is None


def test_symmetries_on_an_asymmetric_camera_are_a_config_error(tiny_stores, tmp_path):
    import h5py

    path = tmp_path / "train.h5"
    path.write_bytes(tiny_stores["train"].read_bytes())
    with h5py.File(path, "r+") as h5:
        x, y = h5["extra/pix_x"][()], h5["extra/pix_y"][()]
        # move an edge pixel two lattice steps outwards: still on the lattice, no longer symmetric
        angles = np.radians(100.893 + 60.0 * np.arange(6))
        steps = 0.05 * np.column_stack([np.cos(angles), np.sin(angles)])
        step = steps[np.argmax(steps @ [x[-1], y[-1]])]
        x[-1], y[-1] = x[-1] + 2 * step[0], y[-1] + 2 * step[1]
        h5["extra/pix_x"][...], h5["extra/pix_y"][...] = x, y
    with pytest.raises(ConfigError, match="hex_symmetries needs a camera"):
        StoreDataset(path, train=True, augment={"hex_symmetries": True})
