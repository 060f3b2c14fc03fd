"""Energy regression on whole simulated detector events: deterministic on CPU, flips keep the target."""

import numpy as np
import torch

from sciimg.config import validate_config
from sciimg.data.detector3d_dataset import VolumeEventDataset
from sciimg.kinds import ingest
from sciimg.simulate.detector3d import simulate_detector3d_file
from sciimg.tasks import RegressionTask
from sciimg.tasks.fit import fit


def test_same_seed_gives_the_same_weights_on_cpu_and_training_events_are_whole_and_flipped(tmp_path):
    config = {
        "experiments": {
            "energy": {
                "modality": "detector3d",
                "task": "regression",
                "seed": 4,
                "data": {
                    "simulate": {"n_events": 12, "seed": 2, "grid": 16},
                    "grid": 16,
                    "split": {"train": 0.5, "val": 0.25, "test": 0.25},
                },
                "model": {"backbone_options": {"widths": [4, 8], "blocks_per_stage": [1, 1], "stem_stride": 2}},
                "trainer": {"max_epochs": 2, "batch_size": 3, "accelerator": "cpu", "patience": 0},
            }
        }
    }
    spec = validate_config(config)["experiments"]["energy"]
    path = simulate_detector3d_file(tmp_path / "events.h5", 12, 2, grid=16)
    stores = ingest([path], tmp_path / "store", spec)
    first, best = fit(spec, tmp_path / "store", tmp_path / "a")
    second, _ = fit(spec, tmp_path / "store", tmp_path / "b")
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert RegressionTask.load_from_checkpoint(best).hparams.spatial_dims == 3
    train = VolumeEventDataset(stores["train"], train=True, seed=1)
    plain = VolumeEventDataset(stores["train"], train=False)
    meta = train.store.meta()
    for index in range(len(train)):
        item, reference = train[(3, index)], plain[index]
        assert item["image"].shape == (1, 16, 16, 16) and item["target"] == meta["deposited_energy_mev"][index]
        # a flip moves charge but keeps every voxel's value and the drift (z) profile
        assert torch.equal(item["image"].flatten().sort().values, reference["image"].flatten().sort().values)
        np.testing.assert_allclose(item["image"].sum((0, 2, 3)), reference["image"].sum((0, 2, 3)), rtol=1e-6)
