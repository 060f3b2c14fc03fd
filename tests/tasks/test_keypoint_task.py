"""KeypointTask on simulated detector volumes: heat targets on occupied voxels, no loss from empty space."""

import pytest
import torch

from sciimg.config import validate_config
from sciimg.data.detector3d_dataset import VolumeKeypointDataset
from sciimg.kinds import ingest
from sciimg.simulate.detector3d import simulate_detector3d_file
from sciimg.tasks import KeypointTask
from sciimg.tasks.fit import fit

UNET = {"encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}}


def test_empty_voxels_carry_no_loss():
    torch.manual_seed(0)
    task = KeypointTask(backbone="unet", backbone_options=UNET, spatial_dims=3)
    image = torch.zeros(1, 1, 8, 8, 8)
    image[0, 0, 2, 2, 2:6] = 1.0
    heatmap = torch.zeros(1, 1, 8, 8, 8)
    centres = torch.zeros(1, 1, 8, 8, 8, dtype=torch.bool)
    heatmap[0, 0, 2, 2, 2], centres[0, 0, 2, 2, 2] = 1.0, True
    loss = task.step({"image": image, "heatmap": heatmap, "centres": centres}, "train")
    heatmap[0, 0, 6, 6, 6], centres[0, 0, 6, 6, 6] = 1.0, True  # a keypoint target in empty space: not counted
    assert task.step({"image": image, "heatmap": heatmap, "centres": centres}, "train").item() == pytest.approx(
        loss.item()
    )
    assert torch.sigmoid(task.predictor.model.head[0].bias).item() == pytest.approx(0.01, rel=0.01)


def test_crops_carry_heat_on_their_keypoints_and_two_fits_with_one_seed_are_identical(tmp_path):
    config = {
        "experiments": {
            "points": {
                "modality": "detector3d",
                "task": "keypoints",
                "seed": 4,
                "data": {
                    "simulate": {"n_events": 12, "seed": 2, "grid": 16},
                    "grid": 16,
                    "patch_size": 16,
                    "crops_per_event": 1,
                    "split": {"train": 0.5, "val": 0.25, "test": 0.25},
                },
                "model": {"backbone_options": UNET},
                "trainer": {"max_epochs": 2, "batch_size": 3, "accelerator": "cpu", "patience": 0},
            }
        }
    }
    spec = validate_config(config)["experiments"]["points"]
    stores = ingest([simulate_detector3d_file(tmp_path / "events.h5", 12, 2, grid=16)], tmp_path / "store", spec)
    dataset = VolumeKeypointDataset(stores["train"], train=True, seed=1, patch_size=16, heat_sigma=1.5)
    with_centres = 0
    for index in range(len(dataset)):
        item = dataset[(2, index)]
        centres, occupied = item["centres"][0], item["image"][0] > 0
        assert item["heatmap"].min() >= 0 and item["heatmap"].max() <= 1
        assert not (centres & ~occupied).any() and torch.all(item["heatmap"][0][centres] == 1)
        with_centres += bool(centres.any())
    assert with_centres >= len(dataset) // 2  # every simulated event here has tracks: their ends are in view
    first, _ = fit(spec, tmp_path / "store", tmp_path / "a")
    second, _ = fit(spec, tmp_path / "store", tmp_path / "b")
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert all(torch.isfinite(p).all() for p in first.parameters())
