"""SegmentationTask on simulated detector volumes: deterministic on CPU, reloads, no loss on empty voxels."""

import numpy as np
import pytest
import torch

from sciimg.config import validate_config
from sciimg.data.ingest_volumes import ingest_volumes
from sciimg.errors import ConfigError
from sciimg.simulate.lartpc import simulate_volume_file
from sciimg.tasks import SegmentationTask
from sciimg.tasks.fit import fit


@pytest.fixture(scope="module")
def volume_spec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segmentation")
    config = {
        "experiments": {
            "seg": {
                "modality": "detector3d",
                "task": "segmentation",
                "seed": 4,
                "data": {
                    "simulate": {"n_events": 12, "seed": 2, "grid": 16},
                    "grid": 16,
                    "patch_size": 16,
                    "crops_per_event": 1,
                    "split": {"train": 0.5, "val": 0.25, "test": 0.25},
                },
                "model": {"backbone_options": {"encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}}},
                "trainer": {"max_epochs": 2, "batch_size": 3, "accelerator": "cpu", "patience": 0},
            }
        }
    }
    spec = validate_config(config)["experiments"]["seg"]
    path = simulate_volume_file(tmp / "events.h5", 12, 2, grid=16)
    ingest_volumes([path], tmp / "store", spec)
    return spec, tmp / "store"


def test_same_seed_gives_the_same_weights_on_cpu_and_the_checkpoint_reloads(tmp_path, volume_spec):
    spec, store = volume_spec
    first, best = fit(spec, store, tmp_path / "a")
    second, _ = fit(spec, store, tmp_path / "b")
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    loaded = SegmentationTask.load_from_checkpoint(best)
    assert loaded.hparams.spatial_dims == 3 and loaded.hparams.n_classes == 6


def test_a_network_with_another_number_of_classes_than_the_data_is_refused(tmp_path, volume_spec):
    spec, store = volume_spec
    spec = {**spec, "model": {**spec["model"], "n_classes": 4}}
    with pytest.raises(ConfigError, match=r"model\.n_classes must equal the 6 classes of .*train\.h5.*got 4"):
        fit(spec, store, tmp_path / "c")


def test_empty_voxels_carry_no_loss():
    torch.manual_seed(0)
    task = SegmentationTask(backbone_options={"encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}})
    image = torch.rand(1, 1, 8, 8, 8)
    labels = torch.full((1, 8, 8, 8), -1)
    labels[0, 2, 3, 4] = 1
    other = labels.clone()
    other[0, 5, 5, 5] = -1  # still empty: the loss must not change
    loss = torch.nn.functional.cross_entropy(task(image), labels, ignore_index=-1)
    assert task.step({"image": image, "labels": other}, "train").item() == pytest.approx(loss.item())
    with pytest.raises(ValueError, match="class_weights must have n_classes = 6 entries, got 2"):
        SegmentationTask(class_weights=[1.0, 2.0])
    assert np.isfinite(loss.item())
