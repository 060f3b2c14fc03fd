"""SegmentationTask on simulated detector volumes: deterministic on CPU, reloads, no loss on empty voxels."""

import numpy as np
import pytest
import torch

from sciimg.config import validate_config
from sciimg.errors import ConfigError
from sciimg.kinds import ingest
from sciimg.simulate.detector3d import simulate_detector3d_file
from sciimg.tasks import SegmentationTask
from sciimg.tasks.fit import fit


def volume_config(task: str, **simulate) -> dict:
    """A tiny detector-volume experiment of ``task`` on 16^3 simulated events."""
    config = {
        "experiments": {
            task: {
                "modality": "detector3d",
                "task": task,
                "seed": 4,
                "data": {
                    "simulate": {"n_events": 12, "seed": 2, "grid": 16, **simulate},
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
    return validate_config(config)["experiments"][task]


@pytest.fixture(scope="module")
def volume_spec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segmentation")
    spec = volume_config("segmentation")
    path = simulate_detector3d_file(tmp / "events.h5", 12, 2, grid=16)
    ingest([path], tmp / "store", spec)
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


def test_volume_denoising_trains_a_two_class_voxel_classifier_where_image_denoising_regresses(tmp_path):
    from sciimg.kinds import get_kind
    from sciimg.tasks import DenoisingTask

    assert get_kind("detector3d", "denoising").load("task_class") is SegmentationTask
    assert get_kind("sky", "denoising").load("task_class") is DenoisingTask
    spec = volume_config("denoising", noisy_pixels=1)
    assert spec["model"]["n_classes"] == 2 and spec["baselines"] == ["threshold_isolated"]
    path = simulate_detector3d_file(tmp_path / "events.h5", 12, 2, grid=16, noisy_pixels=1)
    ingest([path], tmp_path / "store", spec)
    task, _ = fit(spec, tmp_path / "store", tmp_path / "run")
    assert isinstance(task, SegmentationTask) and task(torch.zeros(1, 1, 16, 16, 16)).shape == (1, 2, 16, 16, 16)
    six = {**spec, "model": {**spec["model"], "n_classes": 6}}
    with pytest.raises(ConfigError, match=r"model\.n_classes must equal the 2 classes .*\['signal', 'noise'\]"):
        fit(six, tmp_path / "store", tmp_path / "six")
